"""The emulated board driven as a real one: the real mpremote over QEMU's real pty."""

import ast
import hashlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import serial
from PIL import Image

from mpy_mnist import emulator, paths

pytestmark = pytest.mark.emulator

HOST_DIR = str(paths.REPO_ROOT / "host")


def mpremote(port: str, *args: str, timeout: float = 120) -> str:
    """The real mpremote (a dependency of this package), as a user runs it."""
    result = subprocess.run([sys.executable, "-m", "mpremote", "connect", port, *args], capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, f"mpremote {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def board(emulator_firmware):
    with emulator.start(emulator_firmware) as emu:
        yield emu
    assert not emu.running()


def test_float_runs_on_the_fpu(board):
    assert mpremote(board.port, "exec", "print(1.5 * 2.0, 2.0 ** 0.5)").split() == ["3.0", "1.414214"]


def test_modules_the_device_code_relies_on(board):
    modules = ("framebuf struct array gc micropython random math sys os io errno json binascii hashlib uctypes "
               "time vfs emulator mnist_model mnist_digits")
    out = mpremote(board.port, "exec", f"import {modules.replace(' ', ', ')}; print(sys.platform, "
                   "hashlib.sha256(b'abc').digest().hex(), emulator.LCD_WIDTH, emulator.LCD_HEIGHT)")
    assert out.split() == ["qemu", hashlib.sha256(b"abc").hexdigest(), "480", "272"]


def test_heap_holds_a_frame_buffer_and_more(board):
    out = mpremote(board.port, "exec", "import gc; b = bytearray(480 * 272 * 2); c = bytearray(1024 * 1024); "
                   "gc.collect(); print(gc.mem_free())")
    assert int(out) > 256 * 1024


def test_time_follows_sleep(board):
    out = mpremote(board.port, "exec", "import time; t = time.ticks_us(); time.sleep_ms(200); "
                   "print(time.ticks_diff(time.ticks_us(), t))")
    assert 200_000 <= int(out) < 2_000_000


CLOCK_CHECK = """
import time
steps_back = 0
previous = time.ticks_us()
end = time.ticks_add(time.ticks_ms(), 2000)
while time.ticks_diff(end, time.ticks_ms()) > 0:
    now = time.ticks_us()
    if time.ticks_diff(now, previous) < 0:
        steps_back += 1
    previous = now
short_sleeps = 0
for _ in range(100):
    start = time.time_ns()
    time.sleep_us(2000)
    if time.time_ns() - start < 2000000:
        short_sleeps += 1
print(steps_back, short_sleeps)
"""


def test_clock_never_steps_back(board):
    """Without -icount, as users run it: the SysTick counter can reload while its interrupt is still pending. Read
    naively, ticks_us then steps back a millisecond, and a sleep_us measuring from such a reading ends at once."""
    steps_back, short_sleeps = map(int, mpremote(board.port, "exec", CLOCK_CHECK).split())
    assert (steps_back, short_sleeps) == (0, 0)


def test_files_copied_to_flash_are_intact(board, tmp_path):
    payload = os.urandom(50_000)
    (tmp_path / "blob.bin").write_bytes(payload)
    mpremote(board.port, "fs", "cp", str(tmp_path / "blob.bin"), ":/flash/blob.bin")
    listing = mpremote(board.port, "fs", "ls", ":/flash")
    assert re.search(rf"\b{len(payload)} blob\.bin", listing), listing
    out = mpremote(board.port, "exec", "import hashlib, os; print(hashlib.sha256(open('/flash/blob.bin', 'rb')"
                   ".read()).digest().hex(), os.stat('/flash/blob.bin')[6]); os.rename('/flash/blob.bin', "
                   "'/flash/b2'); os.remove('/flash/b2'); print(os.listdir('/flash'))")
    assert out.split("\n")[0].split() == [hashlib.sha256(payload).hexdigest(), str(len(payload))]
    assert "blob" not in out.split("\n")[1]


# What the DISCO's /flash holds, from MicroPython 1.25's stm32 port and not from our code: the size of its FLASH_FS
# region (boards/stm32f746.ld) in 512-byte blocks (flashbdev.c), formatted by MicroPython's own VfsFat (the same
# f_mkfs as factoryreset.c), with files the sizes of the port's factory files, compiled from factoryreset.c itself
# (stub headers; USB and the network module on, as in the DISCO's build), pybcdc.inf made by the port's tools.
FACTORY_STUBS = """
#include <stdint.h>
#include <stdio.h>
#define MICROPY_HW_ENABLE_STORAGE (1)
#define MICROPY_VFS_FAT (1)
#define MICROPY_HW_ENABLE_USB (1)
#define MICROPY_PY_NETWORK (1)
#define MP_WEAK
#define MP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
typedef int FATFS, FIL, FRESULT;
typedef unsigned UINT;
typedef struct { struct { int flags; } blockdev; FATFS fatfs; } fs_user_mount_t;
#define FA_WRITE 0
#define FA_CREATE_ALWAYS 0
#define FR_OK 0
#define FM_FAT 0
#define FF_MAX_SS 512
#define PYB_LED_GREEN 0
#define MP_ENODEV 19
#define MICROPY_HW_FLASH_FS_LABEL ""
#define f_open(...) FR_OK
#define f_write(...) FR_OK
#define f_close(...) FR_OK
#define f_mkfs(...) FR_OK
#define f_setlabel(...) FR_OK
#define led_state(...)
#define HAL_GetTick() 0u
#define pyb_flash_init_vfs(...)
#define systick_wait_at_least(...)
#define mp_printf(...)
"""
FACTORY_MAIN = """
#include "factoryreset.c"
int main(void) {
    for (size_t i = 0; i < MP_ARRAY_SIZE(factory_files); ++i) {
        printf("%s %zu\\n", factory_files[i].name, factory_files[i].len);
    }
    return 0;
}
"""
FAT_FREE = """
import os, vfs
class Disk:
    def __init__(self, blocks):
        self.data = bytearray(blocks * 512)
    def readblocks(self, block, buf):
        buf[:] = self.data[block * 512 : block * 512 + len(buf)]
    def writeblocks(self, block, buf):
        self.data[block * 512 : block * 512 + len(buf)] = buf
    def ioctl(self, op, arg):
        return {4: len(self.data) // 512, 5: 512}.get(op)
disk = Disk(BLOCKS)
vfs.VfsFat.mkfs(disk)
vfs.mount(vfs.VfsFat(disk), '/disco')
for name, size in FILES:
    with open('/disco/' + name, 'wb') as f:
        f.write(bytes(size))
print(tuple(os.statvfs('/disco')[:5]))
"""


def stm32_factory_files(work: Path) -> list[tuple[str, int]]:
    """(name, size) of the files MicroPython 1.25's stm32 port writes into a new /flash, compiled from its source."""
    from mpy_mnist import firmware

    src = firmware.source_dir()
    stm32 = src / "ports" / "stm32"
    stub = work / "stub"
    for header in ("py/runtime.h", "py/mperrno.h", "extmod/vfs_fat.h", "systick.h", "led.h", "storage.h",
                   "factoryreset.h", "genhdr/pybcdc_inf.h"):
        (stub / header).parent.mkdir(parents=True, exist_ok=True)
        (stub / header).write_text("")
    (stub / "factoryreset.c").write_bytes((stm32 / "factoryreset.c").read_bytes())  # its quoted includes: the stubs
    inf = subprocess.run([sys.executable, src / "tools" / "insert-usb-ids.py", stm32 / "mpconfigboard_common.h",
                          stm32 / "pybcdc.inf_template"], check=True, capture_output=True, text=True).stdout
    (work / "pybcdc.inf").write_text(inf)
    (stub / "genhdr" / "pybcdc_inf.h").write_text(subprocess.run(
        [sys.executable, src / "tools" / "file2h.py", work / "pybcdc.inf"], check=True, capture_output=True,
        text=True).stdout)
    (work / "stubs.h").write_text(FACTORY_STUBS)
    (work / "main.c").write_text(FACTORY_MAIN)
    subprocess.run(["cc", "-w", "-include", work / "stubs.h", f"-I{stub}", "-o", work / "factory", work / "main.c"],
                   check=True, cwd=stub)
    lines = subprocess.run([work / "factory"], check=True, capture_output=True, text=True).stdout.split()
    return [(name, int(size)) for name, size in zip(lines[::2], lines[1::2])]


def test_flash_is_the_discos_fat_volume_with_its_free_space(emulator_firmware, unix_micropython, tmp_path):
    from mpy_mnist import firmware

    linker = (firmware.source_dir() / "ports" / "stm32" / "boards" / "stm32f746.ld").read_text()
    blocks = int(re.search(r"FLASH_FS \(r\)\s*: ORIGIN = \w+, LENGTH = (\d+)K", linker).group(1)) * 1024 // 512
    files = stm32_factory_files(tmp_path)
    script = f"BLOCKS = {blocks}\nFILES = {files!r}\n" + FAT_FREE
    disco = subprocess.run([unix_micropython, "-c", script], check=True, capture_output=True, text=True).stdout
    with emulator.start(emulator_firmware) as fresh:  # a fresh start: /flash made now
        emulated = mpremote(fresh.port, "exec", "import os\nprint(tuple(os.statvfs('/flash')[:5]))\n"
                                                "print(sorted((n, os.stat(n)[6]) for n in os.listdir('/flash')))")
    statvfs, listing = emulated.strip().splitlines()
    assert statvfs == disco.strip()
    assert listing == repr(sorted(files))
    block_size, _, _, _, free_blocks = ast.literal_eval(statvfs)
    print(f"the DISCO's /flash: {blocks} blocks, {block_size * free_blocks} bytes free after {files}")


def test_files_survive_a_soft_reset(board):
    out = mpremote(board.port, "exec", "with open('/flash/keep.txt', 'w') as f: f.write('kept')", "soft-reset",
                   "exec", "import os; print(os.getcwd(), open('keep.txt').read())")
    assert out.split()[-2:] == ["/flash", "kept"]


def test_run_a_script(board, tmp_path):
    script = tmp_path / "script.py"
    script.write_text("import sys\nprint('sum', sum(range(1000)), sys.implementation.name)\n")
    assert mpremote(board.port, "run", str(script)).split() == ["sum", "499500", "micropython"]


def test_lcd_region_shows_in_a_screenshot(board, tmp_path):
    mpremote(board.port, "exec", "import emulator, framebuf, uctypes\n"
             "buf = uctypes.bytearray_at(emulator.LCD_ADDRESS, emulator.LCD_WIDTH * emulator.LCD_HEIGHT * 2)\n"
             "fb = framebuf.FrameBuffer(buf, emulator.LCD_WIDTH, emulator.LCD_HEIGHT, framebuf.RGB565)\n"
             "fb.fill(0x001f)\nfb.fill_rect(100, 50, 20, 10, 0xf800)")
    png = board.screenshot(tmp_path / "lcd.png")
    image = Image.open(png)
    assert image.size == (480, 272)
    assert image.getpixel((0, 0)) == (0, 0, 255)
    assert image.getpixel((105, 55)) == (255, 0, 0)
    assert image.getpixel((120, 55)) == (0, 0, 255)


def test_ctrl_c_interrupts_running_code(board):
    with serial.Serial(board.port, timeout=0.2) as tty:
        tty.write(b"n = 0\rwhile True: n += 1\r\r")
        # Ctrl-C counts as an interrupt only once the code runs: wait for the REPL to echo the whole block.
        assert read_until(tty, b"... \r\n").endswith(b"... \r\n")
        time.sleep(0.5)
        tty.write(b"\x03")
        assert b"KeyboardInterrupt" in read_until(tty, b"KeyboardInterrupt")
        tty.write(b"print(n > 1000)\r")
        assert b"True" in read_until(tty, b"True")


def read_until(tty, marker: bytes, timeout: float = 20) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen and time.monotonic() < deadline:
        seen += tty.read(256)
    return seen


def test_input_sent_while_the_board_boots_is_not_lost(emulator_firmware, tmp_path):
    """A character that reaches the UART before the firmware enables its receive interrupt (emulator.start pokes the
    pty while QEMU starts, and a loaded host may run the guest late) must not hold the input blocked for good."""
    monitor = tmp_path / "qmp.sock"
    qemu = subprocess.Popen([emulator.QEMU, "-machine", emulator.MACHINE, "-cpu", emulator.CPU, "-nographic",
                             "-monitor", "none", "-qmp", f"unix:{monitor},server=on,wait=off", "-serial", "pty",
                             "-semihosting", "-kernel", str(emulator_firmware), "-S"],  # -S: the CPU waits
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with emulator.Emulator(qemu.pid, "", str(monitor), qemu) as paused:
        paused.port = re.search(r"char device redirected to (\S+)", qemu.stdout.readline()).group(1)
        with serial.Serial(paused.port, timeout=0.2) as tty:
            time.sleep(1.5)  # QEMU notices a new client of its pty at a once-a-second check
            tty.write(b"\r")
            time.sleep(0.5)
            paused._qmp("cont")
            time.sleep(1)  # booted by now
            tty.write(b"\x03print(6 * 7)\r")
            assert b"42" in read_until(tty, b"42")


def test_icount_makes_time_deterministic(emulator_firmware):
    code = "import time; t = time.ticks_us(); sum(range(20000)); print(time.ticks_diff(time.ticks_us(), t))"
    runs = []
    for _ in range(2):
        with emulator.start(emulator_firmware, icount=True) as emu:
            runs.append(int(mpremote(emu.port, "exec", code)))
    # What is left to chance is the phase of the 1 kHz SysTick at the start: whether one more timer interrupt
    # (a few dozen instructions) falls inside the measurement, less than a microsecond.
    assert runs[0] > 0 and abs(runs[0] - runs[1]) <= 1, runs


def private_cache(tmp_path):
    """The environment of a command with its own cache: it sees only the emulators this test starts."""
    return dict(os.environ, PYTHONPATH=HOST_DIR, MPY_MNIST_CACHE=str(tmp_path / "cache"))


def emulate(firmware, env):
    """`mpy-mnist emulate` as a user runs it in another terminal: (the process, QEMU's pid, the serial port)."""
    # SIGINT as a terminal's Ctrl-C finds it: a shell that starts the tests as a background job has them ignore it,
    # and the child would inherit that.
    process = subprocess.Popen([sys.executable, "-m", "mpy_mnist", "emulate", "--firmware", str(firmware)],
                               stdout=subprocess.PIPE, text=True, env=env,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    line = process.stdout.readline()
    found = re.search(r"pid (\d+)\). Serial port: (\S+)", line)
    if found is None:
        process.kill()
        pytest.fail(f"mpy-mnist emulate printed {line!r}{process.communicate()[0]}")
    return process, int(found.group(1)), found.group(2)


def command(env, *args, timeout=120):
    return subprocess.run([sys.executable, "-m", "mpy_mnist", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def test_emulate_command_screenshot_and_ctrl_c(emulator_firmware, tmp_path):
    env = private_cache(tmp_path)
    cli, pid, port = emulate(emulator_firmware, env)
    try:
        assert mpremote(port, "exec", "print(6 * 7)").strip() == "42"
        shot = command(env, "screenshot", "--out", str(tmp_path / "s.png"))
        assert shot.returncode == 0, shot.stderr
        assert Image.open(tmp_path / "s.png").size == (480, 272)
    finally:
        cli.send_signal(signal.SIGINT)
        out, _ = cli.communicate(timeout=90)  # QEMU's shutdown is slow on a loaded machine
    assert cli.returncode == 0
    assert "Emulator stopped." in out
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_two_emulators_are_listed_and_the_newest_is_used(emulator_firmware, tmp_path):
    env = private_cache(tmp_path)
    script = tmp_path / "which.py"
    script.write_text("print(open('/flash/which').read())\n")
    emulators = {}
    try:
        for name in ("first", "second"):
            emulators[name] = emulate(emulator_firmware, env)
            mpremote(emulators[name][2], "exec", f"with open('/flash/which', 'w') as f: f.write('{name}')")
        listed = command(env, "ports").stdout
        for _, _, port in emulators.values():
            assert f"{port}\temulated board" in listed, listed
        assert command(env, "run", "--port", "emulator", str(script)).stdout.strip() == "second"

        second, qemu, _ = emulators.pop("second")
        sent = time.monotonic()
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=60)
        assert time.monotonic() - sent <= 3
        with pytest.raises(ProcessLookupError):
            os.kill(qemu, 0)

        assert command(env, "run", "--port", "emulator", str(script)).stdout.strip() == "first"
        listed = command(env, "ports").stdout
        assert listed.count("emulated board") == 1 and emulators["first"][2] in listed, listed
    finally:
        for process, _, _ in emulators.values():
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=60)


def test_a_firmware_qemu_cannot_run_gives_qemus_own_error(tmp_path):
    not_firmware = tmp_path / "firmware.elf"
    not_firmware.write_text("not a firmware\n")
    result = command(private_cache(tmp_path), "emulate", "--firmware", str(not_firmware))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: QEMU stopped"), result.stderr
    assert "qemu: fatal:" in lines[0]


def test_the_folder_of_a_killed_emulate_is_cleaned_up(emulator_firmware, tmp_path):
    process, _, _ = emulate(emulator_firmware, private_cache(tmp_path))
    folders = list(emulator.workdir_base().glob(f"{emulator.WORKDIR_PREFIX}{process.pid}-*"))
    assert len(folders) == 1
    process.kill()  # no time to clean up
    process.communicate()
    assert folders[0].exists()
    with emulator.start(emulator_firmware):
        assert not folders[0].exists()


def test_screenshot_without_emulator_says_how_to_start_one(tmp_path):
    result = command(private_cache(tmp_path), "screenshot")
    assert result.returncode != 0
    assert "mpy-mnist emulate" in result.stderr
