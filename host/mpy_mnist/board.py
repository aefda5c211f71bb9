"""Host <-> board: find boards, push files to /flash atomically, run scripts with live output.

Built on mpremote's serial transport (the raw REPL over a serial port or the emulator's pty). Every failure a user
can meet is raised as BoardError with a message that names the port and what to check; the CLI turns it into a
message and an exit code.
"""

import base64
import contextlib
import hashlib
import io
import json
import math
import os
import re
import struct
import sys
import time
import zlib
from pathlib import Path

import serial
import serial.tools.list_ports
from mpremote.transport import TransportError, TransportExecError
from mpremote.transport_serial import SerialTransport

from . import paths

# USB ids of serial ports that are (or carry) a MicroPython REPL.
BOARD_USB_IDS = {
    (0x0483, 0x374B): "ST-LINK/V2-1 virtual COM port (STM32F746G-DISCO and other Nucleo/Discovery boards)",
    (0x0483, 0x374E): "STLINK-V3 virtual COM port",
    (0x0483, 0x3752): "STLINK-V3 virtual COM port",
    (0xF055, 0x9800): "MicroPython USB CDC (pyboard and other MicroPython boards)",
    (0x2E8A, 0x0005): "MicroPython USB CDC (Raspberry Pi RP2)",
    (0x303A, 0x4001): "MicroPython USB CDC (Espressif)",
}

EMULATOR_PORT = "emulator"
BAUDRATE = 115200
ANSWER_TIMEOUT = 10  # seconds a board has to answer Ctrl-C
SERIAL_READ_TIMEOUT = 2  # seconds one serial read may block: lets mpremote's own timeouts fire on a silent pty
CHUNK_SIZE = 2048  # bytes of file data per raw-REPL command
TEMP_SUFFIX = ".part"
SPARE_BLOCKS = 4  # filesystem blocks kept free beyond the files themselves (directories, metadata)


class BoardError(Exception):
    """A failure talking to the board, with a message for the user; exit_code is the process exit status."""

    def __init__(self, message, exit_code=1):
        super().__init__(message)
        self.exit_code = exit_code


# --- finding boards --------------------------------------------------------------------------------------------


def list_ports():
    """[(device, description)] of serial ports whose USB id is a known MicroPython board or its debug probe."""
    found = []
    for port in sorted(serial.tools.list_ports.comports()):
        description = BOARD_USB_IDS.get((port.vid, port.pid))
        if description:
            found.append((port.device, f"{description} [{port.vid:04x}:{port.pid:04x}]"))
    return found


# --- connecting ------------------------------------------------------------------------------------------------


def _no_answer_message(port, what):
    return (
        f"no MicroPython board answers on {port} ({what}). Check that the board is plugged in and powered, "
        f"that no other program (mpremote, a serial terminal) has the port open, and that it runs MicroPython; "
        f"`mpy-mnist ports` lists the boards this machine sees"
    )


def _answers(transport, seconds):
    """Poke the board until it says something: Ctrl-C stops a program (or a half-sent command), Ctrl-B leaves a
    raw REPL (which ignores Ctrl-C silently) for the friendly one, which prints its banner. Repeated because QEMU's
    pty notices a newly opened client only at its once-a-second check."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        transport.serial.write(b"\r\x03\x02")
        time.sleep(0.25)
        if transport.serial.in_waiting:
            return True
    return False


@contextlib.contextmanager
def connected(port, soft_reset=True):
    """A SerialTransport in the raw REPL on `port`; soft_reset restarts MicroPython first (fresh imports)."""
    if "://" not in port and not os.path.exists(port):
        raise BoardError(
            f"there is no serial port {port}: `mpy-mnist ports` lists the boards this machine sees, and "
            f"--port emulator uses the emulated board"
        )
    try:
        transport = SerialTransport(port, baudrate=BAUDRATE, timeout=SERIAL_READ_TIMEOUT)
    except TransportError:
        raise BoardError(_no_answer_message(port, "the port cannot be opened")) from None
    try:
        try:
            if not _answers(transport, ANSWER_TIMEOUT):
                raise BoardError(_no_answer_message(port, f"no answer to Ctrl-C within {ANSWER_TIMEOUT} s"))
            # mpremote prints what it read when the raw REPL does not answer; our message replaces that.
            with contextlib.redirect_stdout(io.StringIO()):
                transport.enter_raw_repl(soft_reset=soft_reset)
        except (TransportError, serial.SerialException, OSError):
            raise BoardError(_no_answer_message(port, "no raw REPL prompt within 10 s")) from None
        yield transport
    except TransportExecError as error:
        raise BoardError(f"the board on {port} raised an error:\n{error.error_output.rstrip()}") from None
    except (OSError, TransportError, struct.error) as error:
        # serial.SerialException is an OSError: the cable was pulled, the emulator stopped, the board hung
        raise BoardError(f"lost the connection to the board on {port}: {error}") from None
    finally:
        with contextlib.suppress(Exception):
            if transport.in_raw_repl:
                transport.exit_raw_repl()
        with contextlib.suppress(Exception):
            transport.close()


# --- pushing ---------------------------------------------------------------------------------------------------

# Defined on the board once per push. It reports how to move and check bytes with what this firmware has
# (sha256 if hashlib has it, else binascii.crc32, else a pure-Python Adler-32) and the free space.
DEVICE_HELPERS = """
import os
try:
    import binascii
except ImportError:
    binascii = None
def _mm_kind():
    try:
        import hashlib
        hashlib.sha256
        return 'sha256'
    except (ImportError, AttributeError):
        pass
    if binascii and hasattr(binascii, 'crc32'):
        return 'crc32'
    return 'adler32'
def _mm_digest(path, kind):
    h = None
    if kind == 'sha256':
        import hashlib
        h = hashlib.sha256()
    crc = 0
    a = 1
    b = 0
    buf = bytearray(512)
    mv = memoryview(buf)
    with open(path, 'rb') as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            if h:
                h.update(mv[:n])
            elif kind == 'crc32':
                crc = binascii.crc32(mv[:n], crc)
            else:
                for x in mv[:n]:
                    a = (a + x) % 65521
                    b = (b + a) % 65521
    if h:
        return h.digest()
    if kind == 'crc32':
        return crc & 0xffffffff
    return (b << 16) | a
def _mm_mkdirs(path):
    p = ''
    for part in path.split('/')[1:-1]:
        p += '/' + part
        try:
            os.mkdir(p)
        except OSError:
            pass
def _mm_rm(path):
    try:
        os.remove(path)
    except OSError:
        pass
def _mm_free(path):
    s = os.statvfs(path)
    return s[0], s[0] * s[4]
"""


def host_digest(data, kind):
    """The digest _mm_digest computes on the board for the same bytes."""
    if kind == "sha256":
        return hashlib.sha256(data).digest()
    if kind == "crc32":
        return zlib.crc32(data) & 0xFFFFFFFF
    return zlib.adler32(data)


def device_python_files():
    """[(local path, path under DEVICE_DIR)] of the device app's packages, from device_python/package.json when it
    lists them, else every package directory (one with __init__.py) under device_python/."""
    root = paths.DEVICE_PYTHON_DIR
    manifest = root / "package.json"
    if manifest.exists():
        urls = json.loads(manifest.read_text()).get("urls", [])
        return [(root / src, dest) for dest, src in urls if (root / src).is_file()]
    files = []
    for init in sorted(root.glob("*/__init__.py")):
        for source in sorted(init.parent.rglob("*.py")):
            files.append((source, source.relative_to(root).as_posix()))
    return files


def push_plan(export_dir):
    """[(local path, remote path)] that `push` copies: the model, the digit set, the device app's packages."""
    export_dir = Path(export_dir)
    plan = []
    for name in (paths.MODEL_FILE, paths.DIGITS_FILE):
        local = export_dir / name
        if not local.is_file():
            raise BoardError(
                f"{local} not found: export a model first (`mpy-mnist export --out {export_dir}`), "
                f"or pass the directory that holds {paths.MODEL_FILE} and {paths.DIGITS_FILE}"
            )
        plan.append((local, f"{paths.DEVICE_DIR}/{name}"))
    for local, dest in device_python_files():
        plan.append((local, f"{paths.DEVICE_DIR}/{dest}"))
    return plan


def _space_needed(sizes, block_size):
    """Bytes the staged copies take: whole blocks per file, plus a few spare blocks (old files stay until commit)."""
    blocks = sum(max(1, math.ceil(size / block_size)) for size in sizes) + SPARE_BLOCKS
    return blocks * block_size


def _is_no_space(error):
    """MicroPython reports ENOSPC as `OSError: [Errno 28] ENOSPC`, or `OSError: 28` on firmware without errno names."""
    return isinstance(error, TransportExecError) and re.search(r"ENOSPC|Errno 28\b|OSError: 28\b", error.error_output)


def _write_temp(transport, data, temp, progress):
    """Copy data into the board file `temp` in chunks, calling progress(nbytes) after each."""
    transport.exec(f"_mm_f = open({temp!r}, 'wb')")
    try:
        for start in range(0, len(data), CHUNK_SIZE):
            chunk = data[start : start + CHUNK_SIZE]
            transport.exec(f"_mm_f.write(binascii.a2b_base64({base64.b64encode(chunk)!r}))")
            progress(len(chunk))
    finally:
        transport.exec("_mm_f.close()")


def _verify_temp(transport, data, temp, remote, kind):
    size = transport.eval(f"os.stat({temp!r})[6]")
    if size != len(data):
        raise BoardError(f"push to {remote} failed: the board wrote {size} bytes of {len(data)}; the old file is kept")
    if transport.eval(f"_mm_digest({temp!r}, {kind!r})") != host_digest(data, kind):
        raise BoardError(f"push to {remote} failed: {kind} of the copy differs from the host file; the old file is kept")


def push(port, plan, progress=lambda nbytes: None):
    """Copy every (local, remote) file of plan to the board, as one set.

    Each file goes to remote + ".part", is checked on the board (size and sha256/crc32/adler32 against the host's
    bytes), and only when every file is staged and checked are they all renamed over the old ones, by a single
    command: a push that is interrupted or fails before that leaves the previous model and app as they were.
    Returns (digest kind, bytes copied).
    """
    files = [(local.read_bytes(), remote) for local, remote in plan]
    total = sum(len(data) for data, _ in files)
    with connected(port) as transport:
        transport.exec(DEVICE_HELPERS)
        if not transport.eval("binascii is not None and hasattr(binascii, 'a2b_base64')"):
            raise BoardError(f"the firmware on {port} has no binascii.a2b_base64, which push needs to copy files")
        kind = transport.eval("_mm_kind()")
        try:
            block_size, free = transport.eval(f"_mm_free({paths.DEVICE_DIR!r})")
        except TransportExecError:
            raise BoardError(
                f"the board on {port} has no {paths.DEVICE_DIR} filesystem: flash mpy-mnist's firmware "
                f"(`mpy-mnist firmware flash`), which mounts one"
            ) from None
        for _, remote in files:
            transport.exec(f"_mm_rm({remote + TEMP_SUFFIX!r})")  # leftovers of an interrupted push
        _check_space(port, [len(data) for data, _ in files], block_size, free)
        staged = []
        try:
            for data, remote in files:
                temp = remote + TEMP_SUFFIX
                transport.exec(f"_mm_mkdirs({remote!r})")
                staged.append(temp)
                _write_temp(transport, data, temp, progress)
                _verify_temp(transport, data, temp, remote, kind)
        except TransportExecError as error:
            _remove_staged(transport, staged)
            if _is_no_space(error):
                raise BoardError(
                    f"{paths.DEVICE_DIR} on {port} is full: the push needs {total} bytes "
                    f"({_space_needed([len(d) for d, _ in files], block_size)} with filesystem blocks) while the "
                    f"old files stay until it completes; {free} bytes were free. Remove files "
                    f"(`mpremote connect {port} fs rm :{paths.DEVICE_DIR}/NAME`) and push again"
                ) from None
            raise BoardError(f"push failed on the board: {error.error_output.strip()}") from None
        except BoardError:
            _remove_staged(transport, staged)
            raise
        # One command renames them all: once it has reached the board, losing the host or the link cannot split it.
        transport.exec("\n".join(f"os.rename({remote + TEMP_SUFFIX!r}, {remote!r})" for _, remote in files))
    return kind, total


def _check_space(port, sizes, block_size, free):
    needed = _space_needed(sizes, block_size)
    if needed > free:
        raise BoardError(
            f"{paths.DEVICE_DIR} on {port} is full: the push needs {needed} bytes ({sum(sizes)} bytes of files, "
            f"whole {block_size}-byte blocks, while the old files stay until it completes) but only {free} bytes "
            f"are free. Remove files (`mpremote connect {port} fs ls :{paths.DEVICE_DIR}`, then "
            f"`fs rm :{paths.DEVICE_DIR}/NAME`) and push again"
        )


def _remove_staged(transport, staged):
    with contextlib.suppress(Exception):
        transport.exec("_mm_f.close()")
    for temp in staged:
        with contextlib.suppress(Exception):
            transport.exec(f"_mm_rm({temp!r})")


# --- running ---------------------------------------------------------------------------------------------------


def run(port, source, output=None, soft_reset=True):
    """Run MicroPython source on the board (like `mpremote run`), passing its output to output(bytes) as it comes.

    A script that raises on the board ends in BoardError carrying the board's traceback.
    """
    output = output or _write_stdout
    with connected(port, soft_reset=soft_reset) as transport:
        try:
            transport.exec_raw_no_follow(source)
            # mpremote hands the consumer the end-of-output marker (Ctrl-D) too; it is not the script's.
            _, error_output = transport.follow(timeout=None, data_consumer=lambda data: output(data.replace(b"\x04", b"")))
        except KeyboardInterrupt:
            transport.serial.write(b"\x03")  # stop the script on the board too
            raise BoardError("interrupted", exit_code=130) from None
        except TransportError as error:
            raise BoardError(f"running the script on {port} failed: {error}") from None
    if error_output:
        raise BoardError(f"the script failed on the board:\n{error_output.decode(errors='replace').rstrip()}")


def _write_stdout(data):
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


# --- the emulated board ----------------------------------------------------------------------------------------


def running_emulator():
    """The emulated board that `mpy-mnist emulate` runs, or None."""
    from . import emulator

    try:
        return emulator.attach()
    except emulator.EmulatorError:
        return None


@contextlib.contextmanager
def board_port(port, start_emulator, log=print):
    """Yield (serial device, Emulator or None) for --port.

    None picks the first USB board, else the running emulator. "emulator" picks the running emulator, or, when
    start_emulator, starts one for the duration. The Emulator is yielded so the caller can take a screenshot.
    """
    if port not in (None, EMULATOR_PORT):
        yield port, None
        return
    if port is None:
        boards = list_ports()
        if boards:
            yield boards[0][0], None
            return
    running = running_emulator()
    if running:
        yield running.port, running
        return
    if port is None:
        raise BoardError(
            "no board found: plug the STM32F746G-DISCO in by its ST-LINK USB port, pass --port, or use "
            "--port emulator for the emulated board (`mpy-mnist ports` lists what this machine sees)"
        )
    if not start_emulator:
        raise BoardError(
            "no emulated board is running: start one with `mpy-mnist emulate` in another terminal (its /flash "
            "lives as long as it runs), or use `mpy-mnist train-and-push --port emulator`, which starts one"
        )
    log("starting the emulated board (the first time, its firmware is built into the cache: a few minutes)")
    with _started_emulator() as emulated:
        log(f"emulated board on {emulated.port}")
        yield emulated.port, emulated


def _started_emulator():
    """A fresh emulated board (firmware built into the cache on first use), as a context manager."""
    from . import emulator, firmware

    try:
        return emulator.start()
    except (emulator.EmulatorError, firmware.FirmwareError) as error:
        raise BoardError(f"the emulated board did not start: {error}") from None


# --- train-and-push: a model trained once per set of inputs ---------------------------------------------------

TRAINED_SOURCES = ("data.py", "models.py", "train.py", "convert.py", "export.py", "bitmaps.py", "paths.py")


def training_key(options, data_dir):
    """Hex digest of what a trained and exported model depends on: the options, the MNIST files, the code."""
    import tensorflow as tf

    from . import __version__

    digest = hashlib.sha256()
    digest.update(json.dumps(options, sort_keys=True).encode())
    for path in sorted(Path(data_dir).iterdir()):
        if path.is_file() and "ubyte" in path.name:
            digest.update(path.name.encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(f"{__version__} tensorflow {tf.__version__}".encode())
    package_dir = Path(__file__).parent
    for name in TRAINED_SOURCES:
        digest.update((package_dir / name).read_bytes())
    return digest.hexdigest()


def trained_export(options, log=print):
    """The export directory (model.tflite, digits.bin, ...) of a model trained with options, from the cache when
    one was made from the same inputs, else trained, converted and exported now into the cache.

    options: model, epochs, seed, train_subset, count (as `mpy-mnist train` and `export` take them).
    Returns (export dir, reused?).
    """
    from . import data, export, train

    data_dir = data.find_mnist()
    key = training_key(options, data_dir)
    entry = paths.cache_dir() / "trained" / key[:20]
    export_dir = entry / "export"
    done = entry / "options.json"  # written last: its presence means the entry is complete
    if done.is_file():
        return export_dir, True
    log(f"training {options['model']} ({options['epochs']} epochs) into {entry}")
    model_path = entry / paths.MODEL_FILE
    train.train_to_file(
        out=model_path, model=options["model"], epochs=options["epochs"], seed=options["seed"],
        train_subset=options["train_subset"], data_dir=data_dir, verbose=2,
    )
    export.export(model_path, out_dir=export_dir, count=options["count"], data_dir=data_dir)
    done.write_text(json.dumps(options, indent=2) + "\n")
    return export_dir, False
