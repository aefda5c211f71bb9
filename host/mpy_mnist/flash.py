"""Flash MicroPython firmware onto the STM32F746G-DISCO from this machine, then wait for the board's REPL.

The firmware is two images (disco_image: TEXT0 at 0x08000000, TEXT1 at 0x08020000) with MicroPython's /flash
filesystem between them; every method writes those two images only, so the model and files that `push` put on
/flash stay. Four ways onto the board, in this order of preference when none is named (the first one found is used):
  pio           PlatformIO, project firmware/disco (the board's ST-LINK through OpenOCD, one `program` per image)
  st-flash      the open-source stlink tools, one `write` per image
  pyocd         pyOCD over the ST-LINK, both images in one `load`, erasing sector by sector
  stlink-drive  copy a .bin onto the ST-LINK's USB drive DIS_F746NG; the ST-LINK programs the chip itself. The drive
                takes one .bin written from the start of flash, so this one erases /flash and needs
                --erase-filesystem.
Every wait has a timeout. Failures are FlashError with a message naming what was looked for and how to get it.
"""

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import serial

from . import disco_image, firmware, paths
from .disco_image import PARTS

METHODS = ("pio", "st-flash", "pyocd", "stlink-drive")
ERASING_METHODS = ("stlink-drive",)  # methods that cannot write the two images without the filesystem between them

PIO_PROJECT = paths.FIRMWARE_DIR / "disco"
PIO_ENV = "stlink"  # the env of firmware/disco/platformio.ini: the board's ST-LINK/V2-1 through OpenOCD
# Read by firmware/disco/prebuilt_firmware.py (TEXT0) and openocd_two_images.py (TEXT1), in PARTS' order.
PIO_IMAGE_VARIABLES = ("MPY_MNIST_FIRMWARE0", "MPY_MNIST_FIRMWARE1")

# The ST-LINK/V2-1 on the DISCO shows a USB drive with this label holding these files; it reports a failed
# programming by a FAIL.TXT on the drive once it has re-enumerated.
DRIVE_LABEL = "DIS_F746NG"
DRIVE_MARKERS = ("MBED.HTM", "DETAILS.TXT")
DRIVE_FAIL_FILE = "FAIL.TXT"
DRIVE_MOUNT_ROOTS = ("/media", "/run/media", "/mnt", "/Volumes")
DRIVE_IMAGE_NAME = "firmware.bin"

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


# --- the firmware images ---------------------------------------------------------------------------------------


def default_images() -> list[Path]:
    """Where `mpy-mnist firmware build --board disco` leaves the two images."""
    return [firmware.build_dir("disco") / part.name for part in PARTS]


def images(hex_path: Path | None, bin_paths: list[Path], staging: Path, dry_run: bool = False) -> list[Path]:
    """The two image files to write (TEXT0's, then TEXT1's), each checked to be this board's, from --hex, --bin or
    the disco build; a .hex is split into staging. With dry_run a build not made yet is named all the same."""
    try:
        if hex_path is not None:
            _require_file(hex_path)
            split = disco_image.read_hex(hex_path)
            written = [staging / part.name for part in PARTS]
            for part, path in zip(PARTS, written):
                path.write_bytes(split[part])
            return written
        named = list(bin_paths) or default_images()
        if not bin_paths and dry_run and not all(path.is_file() for path in named):
            return named  # what the build will make, where it will make it
        for path in named:
            _require_file(path, built=not bin_paths)
        disco_image.read_bins(named)
        return named
    except disco_image.ImageError as err:
        raise FlashError(str(err)) from None


def _require_file(path: Path, built: bool = False) -> None:
    if not path.is_file():
        how = ("build it with `mpy-mnist firmware build --board disco` (it needs a MicroPython checkout with "
               "lib/stm32lib: MICROPY_DIR=/path/to/micropython), or name one with --hex or --bin") if built else \
              "check the path"
        raise FlashError(f"no firmware image at {path}: {how}")


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


def require_stlink_drive(path: Path) -> None:
    if not is_stlink_drive(path):
        raise FlashError(f"{path} is not an ST-LINK drive: it holds neither of {', '.join(DRIVE_MARKERS)}")


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


def commands(method: str, image_paths: list[Path]) -> list[list[str]]:
    """The commands that write each image at its own address (and nothing between) and then reset the board."""
    placed = list(zip(PARTS, image_paths))
    if method == "pio":
        # The images travel in PIO_IMAGE_VARIABLES (see tool_environment); `nobuild`: take them as built.
        return [[pio_executable() or "pio", "run", "-d", str(PIO_PROJECT), "-e", PIO_ENV, "-t", "nobuild",
                 "-t", "upload"]]
    if method == "st-flash":
        # `write` erases only the sectors it writes; --reset (before and after) on the last write only, so the board
        # never starts with one image new and the other old.
        return [["st-flash", *(["--reset"] if part is PARTS[-1] else []), "write", str(path), f"0x{part.address:08x}"]
                for part, path in placed]
    if method == "pyocd":
        # FILE@ADDRESS places each .bin; --erase sector: only the sectors written (never a chip erase); --no-wait:
        # without it pyOCD waits forever for a probe to be plugged in.
        return [["pyocd", "flash", "--no-wait", "--target", PYOCD_TARGET, "--erase", "sector",
                 *(f"{path}@0x{part.address:08x}" for part, path in placed)]]
    raise FlashError(f"{method} is not run as a command")


def tool_environment(method: str, image_paths: list[Path]) -> dict[str, str]:
    env = dict(os.environ)
    if method == "pio":
        env.update({name: str(path.resolve()) for name, path in zip(PIO_IMAGE_VARIABLES, image_paths)})
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


# ST's drive takes a .bin, written from the first byte of flash (and, with recent ST-LINK firmware, a .hex): nothing
# ST documents says which sectors it erases, and a .bin holding both images covers the filesystem between them. So
# this method copies one .bin of TEXT0, the filesystem's sectors erased, then TEXT1, and only with --erase-filesystem.
DRIVE_ERASES = (f"the ST-LINK drive takes one .bin written from 0x{PARTS[0].address:08X}, so it rewrites "
                f"{disco_image.FILESYSTEM_TEXT}, MicroPython's /flash filesystem: the model and files pushed there are "
                "erased")


def drive_image(image_paths: list[Path], staging: Path, dry_run: bool = False) -> Path:
    """The one .bin the drive takes, made in staging from the two images (named only, when dry_run and not built)."""
    whole = staging / DRIVE_IMAGE_NAME
    if not (dry_run and not all(path.is_file() for path in image_paths)):
        whole.write_bytes(disco_image.whole(dict(zip(PARTS, (path.read_bytes() for path in image_paths)))))
    return whole


def copy_to_drive(bin_path: Path, drive: Path, timeout: float = DRIVE_TIMEOUT_S, log=print) -> None:
    """Copy the image onto the ST-LINK drive, wait until the ST-LINK has taken it, and read its verdict."""
    require_stlink_drive(drive)
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


def describe(method: str, image_paths: list[Path], drive: Path | None) -> list[str]:
    """What flashing will do, as lines a user could run by hand."""
    if method == "stlink-drive":
        return [f"copy {image_paths[0]} to {drive}"]
    prefix = "".join(f"{name}={path.resolve()} " for name, path in zip(PIO_IMAGE_VARIABLES, image_paths)) \
        if method == "pio" else ""
    return [prefix + " ".join(argv) for argv in commands(method, image_paths)]


def flash(hex_path: Path | None = None, bin_paths: list[Path] = (), method: str | None = None,
          drive: Path | None = None, port: str | None = None, dry_run: bool = False, erase_filesystem: bool = False,
          push: bool = False, log=print) -> str | None:
    """Flash the images and return the banner of the REPL that comes up; dry_run only says what it would do.
    A method that erases /flash runs only with erase_filesystem; after it, push sends the last export again."""
    if drive is not None:
        require_stlink_drive(drive)
    drive = drive or find_stlink_drive()
    with tempfile.TemporaryDirectory(prefix="mpy-mnist-flash-") as staging:
        image_paths = images(hex_path, list(bin_paths), Path(staging), dry_run)
        method = choose_method(method, drive)
        erases = method in ERASING_METHODS
        if erases and not erase_filesystem:
            raise FlashError(f"{DRIVE_ERASES}. Pass --erase-filesystem to flash this way anyway (with --push to push "
                             "the last export again afterwards), or use st-flash, pyocd or pio, which keep /flash")
        plan = _push_plan() if erases and push else None  # a missing export fails here, before anything is written
        if method == "stlink-drive":
            image_paths = [drive_image(image_paths, Path(staging), dry_run)]
            log(f"flash: {DRIVE_ERASES}")
        for line in describe(method, image_paths, drive):
            log(f"flash ({method}): {line}")
        if dry_run:
            return None
        if method == "stlink-drive":
            copy_to_drive(image_paths[0], drive, log=log)
        else:
            for argv in commands(method, image_paths):
                run_tool(method, argv, tool_environment(method, image_paths))
    log("flash: done; waiting for the MicroPython REPL")
    banner = wait_for_repl(port)
    if plan is not None:
        _push_again(port or find_repl_port(), plan, log)
    elif erases:
        log("flash: /flash was erased; put the model back with `mpy-mnist push`")
    return banner


def _push_plan():
    from . import pipeline
    from .export import ModelError, default_out_dir

    try:
        return pipeline.push_plan(default_out_dir())
    except (FileNotFoundError, ModelError) as err:
        raise FlashError(f"--push: {err}") from None


def _push_again(port: str, plan, log) -> None:
    from . import board, pipeline

    log("flash: pushing the last export again to the new /flash")
    try:
        pipeline.push_files(port, plan, log=log)
    except board.BoardError as err:
        raise FlashError(f"flashed, but pushing the export again failed: {err}") from None
