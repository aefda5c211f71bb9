"""Host <-> board: find boards, push files to /flash atomically, run scripts with live output.

Built on mpremote's serial transport (the raw REPL over a serial port or the emulator's pty). Every failure a user
can meet is raised as BoardError with a message that names the port and what to check; the CLI turns it into a
message and an exit code.
"""

import base64
import contextlib
import hashlib
import io
import math
import os
import re
import signal
import struct
import sys
import threading
import time

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


def _require_port(port):
    if "://" not in port and not os.path.exists(port):
        raise BoardError(
            f"there is no serial port {port}: `mpy-mnist ports` lists the boards this machine sees, and "
            f"--port emulator uses the emulated board"
        )


@contextlib.contextmanager
def connected(port, soft_reset=True):
    """A SerialTransport in the raw REPL on `port`; soft_reset restarts MicroPython first (fresh imports)."""
    _require_port(port)
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


def _in_blocks(sizes, block_size):
    """Bytes that files of these sizes take on the board: whole blocks each (FAT's clusters, littlefs's blocks)."""
    return sum(max(1, math.ceil(size / block_size)) for size in sizes) * block_size


def space_needed(sizes, block_size):
    """Bytes the staged copies take: the files in whole blocks, plus a few spare blocks (directories, metadata)."""
    return _in_blocks(sizes, block_size) + SPARE_BLOCKS * block_size


def _is_no_space(error):
    """MicroPython reports ENOSPC as `OSError: [Errno 28] ENOSPC`, or `OSError: 28` on firmware without errno names."""
    return isinstance(error, TransportExecError) and re.search(r"ENOSPC|Errno 28\b|OSError: 28\b", error.error_output)


def _write_temp(transport, data, temp, progress):
    """Copy data into the board file `temp` in chunks, calling progress(nbytes) after each. Base64, not mpremote's
    fs_writefile: that sends each chunk as a bytes literal, about 3.4 times the size of a model (base64: 1.33).
    On failure the file is left open for _remove_staged: after Ctrl-C or a lost link, the board is in the middle of
    a command, and waiting for its answer would only time out."""
    transport.exec(f"_mm_f = open({temp!r}, 'wb')")
    for start in range(0, len(data), CHUNK_SIZE):
        chunk = data[start : start + CHUNK_SIZE]
        transport.exec(f"_mm_f.write(binascii.a2b_base64({base64.b64encode(chunk)!r}))")
        progress(len(chunk))
    transport.exec("_mm_f.close()")


def _verify_temp(transport, data, temp, remote):
    size = transport.fs_stat(temp).st_size
    if size != len(data):
        raise BoardError(f"push to {remote} failed: the board wrote {size} bytes of {len(data)}; the old file is kept")
    # sha256 on the board; on firmware without hashlib.sha256, mpremote reads the file back and hashes it here
    if transport.fs_hashfile(temp, "sha256") != hashlib.sha256(data).digest():
        raise BoardError(f"push to {remote} failed: the copy on the board differs from the host file; the old file "
                         "is kept")


def _board_has_sha256(transport):
    try:
        transport.exec("import hashlib\nhashlib.sha256")
    except TransportExecError:
        return False
    return True


def _free_space(transport, port):
    """(block size, free bytes) of DEVICE_DIR on the board."""
    try:
        block_size, _, _, _, free_blocks = transport.eval(f"os.statvfs({paths.DEVICE_DIR!r})")[:5]
    except TransportExecError:
        raise BoardError(
            f"the board on {port} has no {paths.DEVICE_DIR} filesystem: flash mpy-mnist's firmware "
            f"(`mpy-mnist firmware flash`), which mounts one"
        ) from None
    return block_size, block_size * free_blocks


def space(port, remotes):
    """(block size, free bytes, bytes in whole blocks of those remotes that exist) of DEVICE_DIR on the board at
    port: what a copy that overwrites the remotes in place (as `mpremote mip install` does) has room for."""
    with connected(port) as transport:
        transport.exec("import os")
        block_size, free = _free_space(transport, port)
        existing = _existing_sizes(transport, remotes)
    return block_size, free, _in_blocks([size for _, size in existing], block_size)


def _existing_sizes(transport, remotes):
    """[(remote, size)] of the remotes that exist on the board."""
    found = []
    for remote in remotes:
        with contextlib.suppress(OSError):
            found.append((remote, transport.fs_stat(remote).st_size))
    return found


def _make_parents(transport, remotes):
    """The directories the remote files go into (under DEVICE_DIR, which exists)."""
    parents = sorted({remote.rsplit("/", 1)[0] for remote in remotes} - {paths.DEVICE_DIR})
    for directory in parents:
        path = ""
        for part in directory.split("/")[1:]:
            path += "/" + part
            if not transport.fs_isdir(path):
                transport.fs_mkdir(path)


def _remove(transport, path):
    with contextlib.suppress(OSError):
        transport.fs_rmfile(path)


def push(port, plan, progress=lambda nbytes: None, log=print, stand_ins=None, sending=lambda files: None):
    """Copy the (local, remote) files of plan to the board, as one set, leaving out those of a package (the folder
    under DEVICE_DIR they go in) that the board's firmware has frozen: it has them already.

    Each file goes to remote + ".part", is checked on the board (size, and sha256 against the host's bytes), and
    only when every file is staged and checked are they all renamed over the old ones, by a single command: a push
    that is interrupted (Ctrl-C: BoardError with exit code 130) or fails before that leaves the previous model and
    app as they were. stand_ins ({remote: frozen module}) names the files the board's app can do without, using
    the frozen module instead: when the new files do not fit beside the old ones but do without the old copies of
    those, and the board has every one of those modules frozen, the old copies are removed first (said in one line
    to log); an interrupted push then leaves the board on its frozen copies. sending([(remote, size)]) is told what
    goes, before anything is written. Returns (how the files were checked, bytes copied).
    """
    stand_ins = stand_ins or {}
    files = [(local.read_bytes(), remote) for local, remote in plan]
    replaced = []
    try:
        with connected(port) as transport:
            try:
                transport.exec("import os, binascii\nbinascii.a2b_base64")
            except TransportExecError:
                raise BoardError(f"the firmware on {port} has no binascii.a2b_base64, which push needs to copy "
                                 "files") from None
            how = "with sha256 on the board" if _board_has_sha256(transport) else "by reading it back"
            for _, remote in files:
                _remove(transport, remote + TEMP_SUFFIX)  # leftovers of an interrupted push
            block_size, free = _free_space(transport, port)
            frozen = _frozen(transport, {_package(remote) for _, remote in files} - {None} | set(stand_ins.values()))
            files = [(data, remote) for data, remote in files if _package(remote) not in frozen]
            sizes = [len(data) for data, _ in files]
            needed = space_needed(sizes, block_size)
            if needed > free:
                # the old copies of the files whose frozen stand-in the board has
                replaced = _existing_sizes(transport, [remote for _, remote in files
                                                       if stand_ins.get(remote) in frozen])
                _check_space(port, sizes, block_size, free, replaced, can_replace=set(stand_ins.values()) <= frozen)
                log(f"{paths.DEVICE_DIR} on {port} has no room for the new files beside the old ones: removing the "
                    f"old {', '.join(remote.rsplit('/', 1)[1] for remote, _ in replaced)} first; until the push "
                    "completes, the board runs its built-in model and digits")
                for remote, _ in replaced:
                    transport.fs_rmfile(remote)
            sending([(remote, len(data)) for data, remote in files])
            _make_parents(transport, [remote for _, remote in files])
            staged = []
            try:
                for data, remote in files:
                    temp = remote + TEMP_SUFFIX
                    staged.append(temp)
                    _write_temp(transport, data, temp, progress)
                    _verify_temp(transport, data, temp, remote)
            except TransportExecError as error:
                _remove_staged(transport, staged)
                if _is_no_space(error):
                    raise BoardError(
                        f"{paths.DEVICE_DIR} on {port} is full: the push needs {sum(sizes)} bytes "
                        f"({space_needed(sizes, block_size)} with filesystem blocks); {free} bytes were free. "
                        f"Remove files (`mpremote connect {port} fs rm :{paths.DEVICE_DIR}/NAME`) and push again"
                    ) from None
                raise BoardError(f"push failed on the board: {error.error_output.strip()}") from None
            except BoardError:
                _remove_staged(transport, staged)
                raise
            # One command renames them all: once it has reached the board, losing the host or the link cannot split
            # it; Ctrl-C waits until it is sent whole.
            with _interrupt_deferred():
                transport.exec("\n".join(f"os.rename({remote + TEMP_SUFFIX!r}, {remote!r})" for _, remote in files))
    except KeyboardInterrupt:
        if replaced:
            raise BoardError(f"push to {port} interrupted: the old model had been removed to make room, so the "
                             "board runs its built-in model until the next push", exit_code=130) from None
        raise BoardError(f"push to {port} interrupted: nothing was renamed, so the board keeps its previous model "
                         "and app (the next push removes the staged .part files)", exit_code=130) from None
    return how, sum(sizes)


def _package(remote):
    """The package a remote file belongs to (the folder under DEVICE_DIR it goes in), None for a top-level file."""
    parts = remote[len(paths.DEVICE_DIR) + 1 :].split("/")
    return parts[0] if len(parts) > 1 else None


def _frozen(transport, names):
    """The module and package names (a file name ending in .py counts as its module) that the board's firmware has
    frozen: importable with nothing but .frozen on sys.path (which is then put back)."""
    transport.exec(
        "import sys\n"
        "def _mm_frozen(name):\n"
        "    path = sys.path[:]\n"
        "    sys.path[:] = ['.frozen']\n"
        "    try:\n"
        "        __import__(name)\n"
        "        return True\n"
        "    except ImportError:\n"
        "        return False\n"
        "    finally:\n"
        "        sys.path[:] = path\n"
        "        sys.modules.pop(name, None)\n")
    module = {name: name.removesuffix(".py") for name in names}
    found = transport.eval(f"[n for n in {sorted(module.values())!r} if _mm_frozen(n)]")
    return {name for name, module_name in module.items() if module_name in found}


@contextlib.contextmanager
def _interrupt_deferred():
    """Hold Ctrl-C until the block is done (in the main thread, the one signals reach), then raise it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda *_: caught.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise BoardError("interrupted after the push completed: the board has the new model and app", exit_code=130)


def _check_space(port, sizes, block_size, free, replaced, can_replace):
    """Raise BoardError, one line with the figures and the way out, unless the files fit once the `replaced`
    [(remote, size)] are removed (nothing is written before this check)."""
    needed = space_needed(sizes, block_size)
    freed = _in_blocks([size for _, size in replaced], block_size)
    if needed <= free + freed:
        return
    if not can_replace:
        why = "and the firmware has no built-in model to run while the old files are replaced"
    elif replaced:
        why = f"even without the old model and digits ({freed} bytes)"
    else:
        why = "and there is no old model to replace"
    raise BoardError(
        f"{paths.DEVICE_DIR} on {port} is full: the push needs {needed} bytes ({sum(sizes)} bytes of files, whole "
        f"{block_size}-byte blocks) but only {free} bytes are free, {why}. Remove other files (`mpremote connect "
        f"{port} fs ls :{paths.DEVICE_DIR}`, then `fs rm :{paths.DEVICE_DIR}/NAME`) and push again"
    )


def _remove_staged(transport, staged):
    with contextlib.suppress(Exception):
        transport.exec("_mm_f.close()")
    for temp in staged:
        with contextlib.suppress(Exception):
            _remove(transport, temp)


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


def running_emulators():
    """The emulated boards that `mpy-mnist emulate` runs, newest first."""
    from . import emulator

    return emulator.running()


@contextlib.contextmanager
def board_port(port, start_emulator, log=print):
    """Yield (serial device, Emulator or None) for --port.

    None picks the first USB board, else the running emulator. "emulator" picks the running emulator, or, when
    start_emulator, starts one for the duration. The Emulator is yielded so the caller can take a screenshot.
    """
    if port not in (None, EMULATOR_PORT):
        _require_port(port)
        yield port, None
        return
    if port is None:
        boards = list_ports()
        if boards:
            yield boards[0][0], None
            return
    running = running_emulators()
    if running:
        yield running[0].port, running[0]
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
