"""Flash MicroPython firmware onto the STM32F746G-DISCO from this machine, then wait for the board's REPL.

Four ways onto the board, in this order of preference when none is named (the first one found is used):
  pio           PlatformIO, project firmware/disco (env `stlink`: the board's ST-LINK through OpenOCD)
  stlink-drive  copy the .bin onto the ST-LINK's USB drive DIS_F746NG; the ST-LINK programs the chip itself
  st-flash      the open-source stlink tools
  pyocd         pyOCD over the ST-LINK
Every wait has a timeout. Failures are FlashError with a message naming what was looked for and how to get it.
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

import serial

from . import firmware, paths

METHODS = ("pio", "stlink-drive", "st-flash", "pyocd")
FLASH_ADDRESS = "0x08000000"  # start of the STM32F746's internal flash: where a MicroPython .bin begins
FLASH_SIZE = 1024 * 1024

PIO_PROJECT = paths.FIRMWARE_DIR / "disco"
PIO_ENVS = ("stlink", "mbed")  # the envs of firmware/disco/platformio.ini, one per upload protocol
PIO_BIN_VARIABLE = "MPY_MNIST_FIRMWARE_BIN"  # read by firmware/disco/prebuilt_firmware.py

# The ST-LINK/V2-1 on the DISCO shows a USB drive with this label holding these files; it reports a failed
# programming by a FAIL.TXT on the drive once it has re-enumerated.
DRIVE_LABEL = "DIS_F746NG"
DRIVE_MARKERS = ("MBED.HTM", "DETAILS.TXT")
DRIVE_FAIL_FILE = "FAIL.TXT"
DRIVE_MOUNT_ROOTS = ("/media", "/run/media", "/mnt", "/Volumes")

PYOCD_TARGET = "stm32f746nghx"  # the part pyOCD names for the DISCO's board id; its support comes in a CMSIS pack

TOOL_TIMEOUT_S = 600  # PlatformIO's first upload downloads the ststm32 platform and OpenOCD (no toolchain: `nobuild`)
DRIVE_TIMEOUT_S = 60  # the ST-LINK programs 1 MB and re-enumerates its drive in well under this
REPL_TIMEOUT_S = 20

HOW_TO_GET = {
    "pio": "pip install 'mpy-mnist[board]' (or pip install platformio); its first upload needs the network to fetch "
           "PlatformIO's ststm32 platform and OpenOCD",
    "stlink-drive": f"plug the board's ST-LINK USB socket (CN14) into this machine and let the desktop mount its "
                    f"drive {DRIVE_LABEL} (or mount it yourself and pass --drive)",
    "st-flash": "apt-get install stlink-tools",
    "pyocd": "pip install pyocd, then once: pyocd pack install stm32f746ng",
}

FAILURE_HINTS = {
    "pio": "; PlatformIO fetches its ststm32 platform and OpenOCD from its registry on first use, so that needs the "
           "network once",
    "pyocd": "; pyOCD knows the STM32F746 only from its CMSIS pack: pyocd pack install stm32f746ng",
}


class FlashError(Exception):
    """Flashing cannot go on; the message says what is missing and how to get it."""


# --- the firmware image ----------------------------------------------------------------------------------------


def default_bin() -> Path:
    """Where `mpy-mnist firmware build --board disco` leaves the image."""
    return firmware.build_dir("disco") / "firmware.bin"


def check_bin(path: Path) -> None:
    if not path.is_file():
        raise FlashError(
            f"no firmware image at {path}: build it with `mpy-mnist firmware build --board disco` (it needs a "
            f"MicroPython checkout with lib/stm32lib: MICROPY_DIR=/path/to/micropython), or name one with --bin")
    size = path.stat().st_size
    if not 0 < size <= FLASH_SIZE:
        raise FlashError(f"{path} is {size} bytes: a firmware image for the STM32F746 is 1 to {FLASH_SIZE} bytes")


# --- finding the ways onto the board ---------------------------------------------------------------------------


def find_stlink_drive(roots=DRIVE_MOUNT_ROOTS) -> Path | None:
    """The mounted ST-LINK drive: a directory named DIS_F746NG holding MBED.HTM or DETAILS.TXT."""
    for root in map(Path, roots):
        for candidate in (root / DRIVE_LABEL, *root.glob(f"*/{DRIVE_LABEL}")):
            if is_stlink_drive(candidate):
                return candidate
    return None


def is_stlink_drive(path: Path) -> bool:
    try:
        names = {entry.name.upper() for entry in path.iterdir()}
    except OSError:
        return False
    return any(marker in names for marker in DRIVE_MARKERS)


def pio_executable() -> str | None:
    return shutil.which("pio") or shutil.which("platformio")


def method_available(method: str, drive: Path | None) -> bool:
    if method == "pio":
        return pio_executable() is not None
    if method == "stlink-drive":
        return drive is not None
    return shutil.which(method) is not None


def choose_method(requested: str | None, drive: Path | None) -> str:
    """The requested method if it is usable here, else the first usable one in METHODS' order."""
    if requested is not None:
        if requested not in METHODS:
            raise FlashError(f"unknown flash method {requested!r}: choose one of {', '.join(METHODS)}")
        if not method_available(requested, drive):
            raise FlashError(f"{requested} is not available here: {HOW_TO_GET[requested]}")
        return requested
    for method in METHODS:
        if method_available(method, drive):
            return method
    looked_for = "\n".join(f"  {method}: {HOW_TO_GET[method]}" for method in METHODS)
    raise FlashError(
        "no way to flash the board was found. Looked for: the `pio` command, a mounted ST-LINK drive named "
        f"{DRIVE_LABEL} (under {', '.join(DRIVE_MOUNT_ROOTS)}) holding {' or '.join(DRIVE_MARKERS)}, the "
        f"`st-flash` command and the `pyocd` command. To get one:\n{looked_for}")


# --- the command lines, each as its tool documents it ----------------------------------------------------------


def command(method: str, bin_path: Path, pio_env: str = "stlink") -> list[str]:
    """The command that writes `bin_path` to the start of flash and resets the board."""
    if method == "pio":
        if pio_env not in PIO_ENVS:
            raise FlashError(f"unknown PlatformIO env {pio_env!r}: choose one of {', '.join(PIO_ENVS)}")
        # The image travels in PIO_BIN_VARIABLE (see tool_environment); `nobuild` makes PlatformIO take it as built.
        return [pio_executable() or "pio", "run", "-d", str(PIO_PROJECT), "-e", pio_env, "-t", "nobuild",
                "-t", "upload"]
    if method == "st-flash":
        return ["st-flash", "--reset", "write", str(bin_path), FLASH_ADDRESS]
    if method == "pyocd":
        # --no-wait: without it pyOCD waits forever for a probe to be plugged in.
        return ["pyocd", "flash", "--no-wait", "--target", PYOCD_TARGET, "--base-address", FLASH_ADDRESS,
                str(bin_path)]
    raise FlashError(f"{method} is not run as a command")


def tool_environment(method: str, bin_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    if method == "pio":
        env[PIO_BIN_VARIABLE] = str(bin_path.resolve())
    return env


def run_tool(method: str, argv: list[str], env: dict[str, str], timeout: float = TOOL_TIMEOUT_S) -> None:
    """Run a flashing tool with its output going straight to the terminal."""
    try:
        result = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise FlashError(f"{method} did not finish within {timeout:.0f} s: `{' '.join(argv)}`") from None
    if result.returncode != 0:
        raise FlashError(
            f"{method} failed (exit status {result.returncode}); its own message is above. Check that the board's "
            f"ST-LINK USB socket (CN14) is connected, that no other program (a debugger, st-util, OpenOCD) holds "
            f"the ST-LINK, and on Linux that your user may open it (udev rules: stlink-tools installs them)"
            f"{FAILURE_HINTS.get(method, '')}. Command: `{' '.join(argv)}`")


# --- the ST-LINK drive -----------------------------------------------------------------------------------------


def copy_to_drive(bin_path: Path, drive: Path, timeout: float = DRIVE_TIMEOUT_S, log=print) -> None:
    """Copy the image onto the ST-LINK drive, wait until the ST-LINK has taken it, and read its verdict."""
    if not is_stlink_drive(drive):
        raise FlashError(f"{drive} is not an ST-LINK drive: it holds neither of {', '.join(DRIVE_MARKERS)}")
    copied = drive / bin_path.name
    with open(bin_path, "rb") as source, open(copied, "wb") as target:
        shutil.copyfileobj(source, target)
        target.flush()
        os.fsync(target.fileno())  # the ST-LINK only sees what reached its drive
    # Once it has programmed the chip, the ST-LINK re-enumerates its drive: mounted again, the copied file is gone,
    # and a FAIL.TXT says why if programming failed.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_stlink_drive(drive) and not copied.exists():
            fail_file = next((entry for entry in drive.iterdir() if entry.name.upper() == DRIVE_FAIL_FILE), None)
            if fail_file is not None:
                reason = fail_file.read_text(errors="replace").strip()
                raise FlashError(f"the ST-LINK could not program the board; its {fail_file.name} says: {reason}")
            return
        time.sleep(0.2)
    if copied.exists():
        raise FlashError(f"the ST-LINK did not take {copied.name} within {timeout:.0f} s (it is still on {drive}). "
                         f"Unplug and replug the board's ST-LINK USB socket and try again")
    # Taken, but the drive was not mounted again (some desktops mount it only once): the REPL will tell.
    log(f"flash: the ST-LINK took the image, but {drive} was not mounted again to show its verdict")


# --- the REPL after flashing -----------------------------------------------------------------------------------


def find_repl_port() -> str | None:
    """The board's serial port: on the DISCO, the ST-LINK's virtual COM port carries the stm32 port's REPL (UART1)."""
    from . import board  # here, not at the top: it brings in mpremote, which the CLI loads only when needed

    found = board.list_ports()
    return found[0][0] if found else None


def wait_for_repl(port: str | None, timeout: float = REPL_TIMEOUT_S) -> str:
    """Interrupt whatever runs, ask MicroPython for its banner and return it (or the prompt if it gives none)."""
    from . import board

    deadline = time.monotonic() + timeout
    problem = "nothing happened"
    while time.monotonic() < deadline:
        device = port or find_repl_port()
        if device is None:
            ids = ", ".join(f"{vid:04x}:{pid:04x}" for vid, pid in board.BOARD_USB_IDS)
            problem = f"no board serial port appeared (looked for the USB ids of `mpy-mnist ports`: {ids}; name the " \
                      f"port with --port)"
            time.sleep(0.5)
            continue
        try:
            with serial.Serial(device, board.BAUDRATE, timeout=0.2) as link:
                seen = ask_for_banner(link, deadline)
        except serial.SerialException as exc:
            # The ST-LINK re-enumerates after programming: its port can be gone, or not yet usable, for a moment.
            problem = f"the port {device} could not be used ({exc})"
            time.sleep(0.5)
            continue
        banner = repl_banner(seen.decode(errors="replace"))
        if banner or b">>>" in seen:
            return banner or ">>>"  # a REPL that answers without a banner is up all the same
        tail = seen.decode(errors="replace").strip()[-200:]
        problem = f"no MicroPython REPL answered on {device}" + (f"; it printed: {tail}" if tail else "")
    raise FlashError(f"flashed, but within {timeout:.0f} s {problem}")


def ask_for_banner(link: serial.Serial, deadline: float) -> bytes:
    """What the board says, up to its banner and prompt (or up to the deadline)."""
    seen, next_ask = b"", 0.0
    while time.monotonic() < deadline:
        if time.monotonic() >= next_ask:
            # Ctrl-C twice stops a running program; Ctrl-B leaves the raw REPL and prints the banner. Asked again
            # every few seconds, since a board still booting drops what it receives.
            link.write(b"\r\x03\x03\x02")
            next_ask = time.monotonic() + 3
        seen = (seen + link.read(256))[-4096:]  # a chatty program must not make this slow
        if repl_banner(seen.decode(errors="replace")) and seen.rstrip(b" ").endswith(b">>>"):
            break
    return seen


def repl_banner(text: str) -> str | None:
    """The last MicroPython banner line (`MicroPython v1.25.0 on <date>; <board> with <mcu>`) in the text."""
    lines = [line.strip() for line in text.replace("\r", "\n").split("\n")]
    return next((line for line in reversed(lines) if line.startswith("MicroPython v")), None)


# --- the whole job ---------------------------------------------------------------------------------------------


def choose(bin_path: Path, method: str | None, drive: Path | None) -> tuple[str, Path | None]:
    """(method, ST-LINK drive) for this image on this machine, without touching the board."""
    check_bin(bin_path)
    drive = drive or find_stlink_drive()
    return choose_method(method, drive), drive


def describe(method: str, bin_path: Path, drive: Path | None, pio_env: str) -> str:
    """What flashing will do, as a line a user could run by hand."""
    if method == "stlink-drive":
        return f"copy {bin_path} to {drive}"
    prefix = f"{PIO_BIN_VARIABLE}={bin_path.resolve()} " if method == "pio" else ""
    return prefix + " ".join(command(method, bin_path, pio_env))


def flash(bin_path: Path, method: str | None = None, drive: Path | None = None, pio_env: str = "stlink",
          port: str | None = None, dry_run: bool = False, log=print) -> str | None:
    """Flash the image and return the banner of the REPL that comes up; dry_run only says what it would do."""
    method, drive = choose(bin_path, method, drive)
    log(f"flash ({method}): {describe(method, bin_path, drive, pio_env)}")
    if dry_run:
        return None
    if method == "stlink-drive":
        copy_to_drive(bin_path, drive, log=log)
    else:
        run_tool(method, command(method, bin_path, pio_env), tool_environment(method, bin_path))
    log("flash: done; waiting for the MicroPython REPL")
    return wait_for_repl(port)
