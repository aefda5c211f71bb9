"""The emulated board: the emulator firmware in QEMU's mps2-an500 (Cortex-M7), reached like a real board.

    with emulator.start() as emu:          # builds the emulator firmware if needed
        subprocess.run(["mpremote", "connect", emu.port, "exec", "print(1)"])
        emu.screenshot("lcd.png")

The REPL is on a pseudo-terminal (`emu.port`) for mpremote; QEMU's QMP monitor is on a unix socket, used to read
guest memory (the LCD frame buffer) and to quit. The board's 16 MiB PSRAM is a file shared with QEMU
(`emu.shared_memory()`): the viewer reads the LCD and writes the touch panel there without stopping the board;
and QEMU logs everything the board prints (`emu.console_log`), so the viewer shows it while mpremote owns the pty.
`icount=True` runs QEMU with `-icount shift=0`: one virtual nanosecond per instruction, so `time.ticks_us()`
figures repeat to within 1 us (the phase of the 1 kHz timer interrupt at the start of a measurement is all that
is left to chance).
"""

import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from . import paths

QEMU = "qemu-system-arm"
MACHINE = "mps2-an500"
CPU = "cortex-m7"
QEMU_HINT = "install it with: apt-get install qemu-system-arm"
BOARD_HEADER = paths.FIRMWARE_DIR / "boards" / "EMULATOR_M7" / "board.h"
START_TIMEOUT_S = 60
# QEMU's mps2-an500 main RAM: 16 MiB "PSRAM" at 0x60000000 (board.h places the LCD and touch panel in it).
PSRAM_ADDRESS = 0x60000000
PSRAM_BYTES = 16 * 1024 * 1024
PSRAM_FILE = "psram"
CONSOLE_LOG = "console.log"
WORKDIR_PREFIX = "mpy-mnist-qemu-"  # then the pid of the process that owns the run: tells a stale folder


class EmulatorError(Exception):
    """The emulator could not start, answer, or be found."""


def board_constant(name: str) -> int:
    """A fixed address or size of the emulated board, read from its one definition (board.h)."""
    match = re.search(rf"#define\s+{name}\s+\(([^)]*)\)", BOARD_HEADER.read_text())
    if match is None:
        raise EmulatorError(f"{name} is not defined in {BOARD_HEADER}")
    return int(eval(match.group(1), {"__builtins__": {}}))  # simple integer arithmetic such as 3 * 1024 * 1024


def state_dir() -> Path:
    """Where each `mpy-mnist emulate` notes its emulator (one record per QEMU), for `ports`, `screenshot`, ..."""
    return paths.cache_dir() / "emulators"


class Emulator:
    """A running QEMU. `port` is the REPL's pty; `stop()` (or leaving the `with` block) ends QEMU."""

    def __init__(self, pid: int, port: str, monitor: str, process: subprocess.Popen | None = None,
                 workdir: Path | None = None):
        self.pid = pid
        self.port = port
        self.monitor = monitor
        self.process = process
        self.workdir = workdir

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def running(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return _pid_alive(self.pid)

    def read_memory(self, address: int, length: int) -> bytes:
        """`length` bytes of guest physical memory from `address`, through the monitor (pmemsave)."""
        with tempfile.TemporaryDirectory(prefix="mpy-mnist-mem-") as tmp:
            dump = Path(tmp) / "memory.bin"
            self._qmp("pmemsave", val=address, size=length, filename=str(dump))
            return dump.read_bytes()

    def lcd_pixels(self) -> np.ndarray:
        """The LCD frame buffer as (height, width, 3) uint8 RGB, from its RGB565 (little-endian) words."""
        width, height = board_constant("LCD_WIDTH"), board_constant("LCD_HEIGHT")
        return rgb565_to_rgb(self.read_memory(board_constant("LCD_ADDRESS"), width * height * 2), width, height)

    @property
    def console_log(self) -> Path:
        """Everything the board has printed on its console since QEMU started (QEMU writes it)."""
        return Path(self.monitor).parent / CONSOLE_LOG

    def shared_memory(self) -> "SharedMemory":
        """The board's PSRAM, mapped into this process (LCD and touch panel; see board.h)."""
        return SharedMemory(Path(self.monitor).parent / PSRAM_FILE)

    def screenshot(self, path) -> Path:
        """Save the LCD as a PNG."""
        from PIL import Image

        path = Path(path)
        Image.fromarray(self.lcd_pixels(), "RGB").save(path)
        return path

    def reset(self) -> None:
        """Press the board's reset button (QEMU's system_reset): the firmware boots afresh, /flash is kept."""
        self._qmp("system_reset")

    def stop(self, timeout: float = 10) -> None:
        """Quit QEMU through its monitor, killing it if it does not go; idempotent."""
        if self.running():
            try:
                self._qmp("quit")
            except (OSError, EmulatorError):
                pass
            if not self._wait(timeout):
                os.kill(self.pid, signal.SIGKILL)
                self._wait(timeout)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def _wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                return True
            time.sleep(0.05)
        return False

    def _qmp(self, command: str, **arguments):
        """One QMP command on a fresh connection (QMP accepts one client at a time, so none is held)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(30)
            sock.connect(self.monitor)
            replies = sock.makefile("rb")
            json.loads(replies.readline())  # greeting
            for name, args in (("qmp_capabilities", {}), (command, arguments)):
                sock.sendall(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
                reply = _qmp_reply(replies)
                if reply is None and name == "quit":
                    return None
                if "error" in reply:
                    raise EmulatorError(f"QEMU monitor: {command}: {reply['error'].get('desc')}")
            return reply.get("return")


def _qmp_reply(replies):
    """The next reply, skipping asynchronous events; None when QEMU closed the connection (after quit)."""
    while True:
        line = replies.readline()
        if not line:
            return None
        message = json.loads(line)
        if "return" in message or "error" in message:
            return message


def rgb565_to_rgb(raw: bytes, width: int, height: int) -> np.ndarray:
    """(height, width, 3) uint8 RGB from little-endian RGB565 words, each component widened by repeating its top
    bits (so that 0x1f becomes 0xff)."""
    words = np.frombuffer(raw, dtype="<u2").reshape(height, width).astype(np.uint16)
    red, green, blue = (words >> 11) & 0x1F, (words >> 5) & 0x3F, words & 0x1F
    return np.stack([(red << 3) | (red >> 2), (green << 2) | (green >> 4), (blue << 3) | (blue >> 2)],
                    axis=-1).astype(np.uint8)


class SharedMemory:
    """The PSRAM file QEMU backs the board's main RAM with, mapped here: reads see what the board wrote, and a
    write is seen by the board's next load, with no monitor command and no pause of the board."""

    def __init__(self, path: Path):
        import mmap

        try:
            with open(path, "r+b") as file:
                self._map = mmap.mmap(file.fileno(), PSRAM_BYTES)
        except (OSError, ValueError) as error:
            raise EmulatorError(f"cannot map the emulated board's memory {path}: {error}") from None
        self._words = (ctypes.c_uint32 * (PSRAM_BYTES // 4)).from_buffer(self._map)

    def read(self, address: int, length: int) -> bytes:
        offset = address - PSRAM_ADDRESS
        return self._map[offset : offset + length]

    def write_word(self, address: int, value: int) -> None:
        """One aligned 32-bit store, so the board reads either the old word or the new one, never a mix."""
        self._words[(address - PSRAM_ADDRESS) // 4] = value

    def close(self) -> None:
        del self._words
        self._map.close()


def touch_word(x: int, y: int, down: bool) -> int:
    """The touch panel word of board.h: x in bits 0-11, y in bits 12-23, bit 24 while the pen is down."""
    return (x & 0xFFF) | (y & 0xFFF) << 12 | int(down) << 24


def start(firmware: Path | None = None, icount: bool = False, extra_args=()) -> Emulator:
    """Start QEMU on the emulator firmware (built when not given) and wait until the REPL answers. `extra_args`
    go to QEMU as they are (the bench adds its instruction-counting plugin this way)."""
    if shutil.which(QEMU) is None:
        raise EmulatorError(f"{QEMU} not found: {QEMU_HINT}")
    if firmware is None:
        from . import firmware as firmware_builds

        firmware = firmware_builds.build("emulator")
    firmware = Path(firmware)
    if not firmware.is_file():
        raise EmulatorError(f"no emulator firmware at {firmware}: build it with `mpy-mnist firmware build "
                            "--board emulator`")
    _remove_stale_workdirs()
    workdir = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-", dir=workdir_base()))
    monitor = str(workdir / "qmp.sock")
    log_path = workdir / "qemu.log"
    cmd = [QEMU, "-machine", MACHINE, "-cpu", CPU, "-nographic", "-monitor", "none",
           "-qmp", f"unix:{monitor},server=on,wait=off",
           "-chardev", f"pty,id=console,logfile={workdir / CONSOLE_LOG}", "-serial", "chardev:console",
           "-object", f"memory-backend-file,id=psram,size={PSRAM_BYTES},mem-path={workdir / PSRAM_FILE},share=on",
           "-machine", "memory-backend=psram", "-semihosting", "-kernel", str(firmware)]
    if icount:
        cmd += ["-icount", "shift=0"]
    cmd += list(extra_args)
    with open(log_path, "w") as log:
        # Its own session: a Ctrl-C in the terminal reaches us, and we quit QEMU cleanly. And QEMU dies with us,
        # so no test or command can leave one behind.
        process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, preexec_fn=_die_with_parent)
    emu = Emulator(process.pid, "", monitor, process, workdir)
    try:
        emu.port = _wait_for_pty(process, log_path)
        _wait_for_socket(process, monitor, log_path)
        _wait_for_repl(emu.port, process, log_path)
    except BaseException:
        emu.stop()
        raise
    return emu


def workdir_base() -> Path:
    """Where a run's folder goes: in memory (/dev/shm) where there is one, since the PSRAM file would otherwise be
    written back to disk."""
    return Path("/dev/shm") if os.path.isdir("/dev/shm") else Path(tempfile.gettempdir())


def _remove_stale_workdirs():
    """The folders of runs whose owner was killed (SIGKILL leaves no time to clean up): its pid is in the name."""
    for folder in workdir_base().glob(WORKDIR_PREFIX + "*"):
        match = re.fullmatch(re.escape(WORKDIR_PREFIX) + r"(\d+)-[^-]+", folder.name)
        if match and not _pid_alive(int(match.group(1))):
            shutil.rmtree(folder, ignore_errors=True)


def _qemu_failed(process, log_path: Path) -> EmulatorError:
    """QEMU's own words for why it stopped (the log without the pty notice and the register dump)."""
    lines = [line for line in log_path.read_text(errors="replace").splitlines()
             if line.strip() and not line.startswith("char device redirected")]
    reason = lines[0] if lines else "no message"
    return EmulatorError(f"QEMU stopped (exit status {process.returncode}) before MicroPython answered: {reason}")


def _die_with_parent():
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_PDEATHSIG = 1
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait_for_pty(process, log_path: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        match = re.search(r"char device redirected to (\S+)", log_path.read_text())
        if match:
            return match.group(1)
        if process.poll() is not None:
            raise _qemu_failed(process, log_path)
        time.sleep(0.05)
    raise EmulatorError("QEMU did not open its serial pty")


def _wait_for_socket(process, monitor: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not os.path.exists(monitor):
        if process.poll() is not None:
            raise _qemu_failed(process, log_path)
        if time.monotonic() > deadline:
            raise EmulatorError(f"QEMU's monitor socket did not appear:\n{log_path.read_text()}")
        time.sleep(0.05)


def _wait_for_repl(port: str, process, log_path: Path) -> None:
    """Until MicroPython answers a Ctrl-C with its prompt: the board is booted and /flash mounted."""
    import serial

    deadline = time.monotonic() + START_TIMEOUT_S
    seen = b""
    try:
        with serial.Serial(port, timeout=0.2) as tty:
            while time.monotonic() < deadline and process.poll() is None:
                tty.write(b"\r\x03")
                seen = (seen + tty.read(256))[-512:]
                if b">>> " in seen:
                    return
    except serial.SerialException:  # the pty went with QEMU
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
    if process.poll() is not None:
        raise _qemu_failed(process, log_path)
    raise EmulatorError(f"no MicroPython prompt on {port} within {START_TIMEOUT_S} s (got {seen[-200:]!r})")


# ---------------------------------------------------------------------------------------------------------------
# The emulator started by `mpy-mnist emulate`, found again by other commands.


def save_state(emu: Emulator) -> Path:
    path = state_dir() / f"{emu.pid}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".part")
    temporary.write_text(json.dumps({"pid": emu.pid, "port": emu.port, "monitor": emu.monitor,
                                     "started": time.time()}))
    os.replace(temporary, path)  # readers never see half a record
    return path


def clear_state(emu: Emulator) -> None:
    (state_dir() / f"{emu.pid}.json").unlink(missing_ok=True)


def running() -> list[Emulator]:
    """The emulators `mpy-mnist emulate` runs, newest first; the records of stopped ones are removed."""
    found = []
    for record in state_dir().glob("*.json"):
        try:
            state = json.loads(record.read_text())
        except (OSError, ValueError):
            continue
        emu = Emulator(state["pid"], state["port"], state["monitor"])
        if emu.running() and os.path.exists(emu.monitor):
            found.append((state["started"], emu))
        else:
            record.unlink(missing_ok=True)
    return [emu for _, emu in sorted(found, key=lambda item: item[0], reverse=True)]


def attach() -> Emulator:
    """The newest emulator that `mpy-mnist emulate` is running."""
    emulators = running()
    if not emulators:
        raise EmulatorError("no emulator is running: start one with `mpy-mnist emulate`")
    return emulators[0]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
