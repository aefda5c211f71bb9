"""Stand-ins for what only a real STM32F746G-DISCO has (its ST-LINK drive, its REPL on a serial port), and the CLI.

There is no board and no real disco firmware here, so flashing is tested up to the tool boundary: real tools,
real files, a real pty; the board's side of the drive and of the serial line is played by the helpers below,
which behave as the ST-LINK/V2-1 and MicroPython's stm32 port are documented to.
"""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BANNER = "MicroPython v1.25.0 on 2025-04-15; F7DISC with STM32F746"


class StlinkDrive(threading.Thread):
    """Plays the ST-LINK: waits for a complete .bin on its drive, 'programs' it (keeps its bytes), then
    re-enumerates the drive without it, leaving FAIL.TXT when told to fail (or not mounted again at all)."""

    def __init__(self, drive: Path, size: int, fail_reason: str | None = None, remount: bool = True):
        super().__init__(daemon=True)
        self.drive, self.size, self.fail_reason, self.remount = drive, size, fail_reason, remount
        self.programmed = None

    def run(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for entry in self.drive.glob("*.bin"):
                if entry.stat().st_size == self.size:
                    time.sleep(0.3)  # programming
                    self.programmed = entry.read_bytes()
                    entry.unlink()
                    if not self.remount:  # the drive went away and the desktop did not mount it again
                        for left in self.drive.iterdir():
                            left.unlink()
                        return
                    if self.fail_reason:
                        (self.drive / "FAIL.TXT").write_text(self.fail_reason + "\r\n")
                    return
            time.sleep(0.05)


class ReplOnPty(threading.Thread):
    """Plays the board's REPL on a pty: answers Ctrl-B with the stm32 port's banner and a prompt."""

    def __init__(self, banner: str | None = BANNER, prompt: bool = True):
        super().__init__(daemon=True)
        self.master, slave = os.openpty()
        self.port = os.ttyname(slave)
        self.slave = slave  # kept open so the pty lives while the test runs
        self.banner, self.prompt = banner, prompt
        self.received = b""

    def run(self):
        while True:
            try:
                data = os.read(self.master, 256)
            except OSError:
                return
            self.received += data
            if b"\x02" in data and self.prompt:
                reply = "\r\n"
                if self.banner:
                    reply += f"{self.banner}\r\nType \"help()\" for more information.\r\n"
                os.write(self.master, (reply + ">>> ").encode())

    def close(self):
        os.close(self.master)
        os.close(self.slave)


def run_cli(*args, env=None, timeout=300):
    """`mpy-mnist ...` as a user runs it, in a fresh process."""
    full_env = dict(os.environ, PYTHONPATH=str(REPO / "host"), **(env or {}))
    return subprocess.run([sys.executable, "-m", "mpy_mnist", *args], cwd=REPO, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


# Fixtures: test modules import them by name.


# A stand-in for the disco firmware (which needs lib/stm32lib): a tiny program linked with MicroPython's own STM32F746
# layout (ports/stm32/boards/stm32f746.ld + common_ifs.ld, the ISR-in-RAM variant STM32F7DISC uses, the port's
# linker flags), so its ELF has the real firmware's sections at the real addresses: .isr_vector in RAM loaded at
# 0x08000000, .text and .data's load image from 0x08020000.
SYNTHETIC_FIRMWARE_C = r"""
extern unsigned long _estack;
void Reset_Handler(void);
__attribute__((section(".isr_vector"), used)) const void *const vectors[] = {&_estack, Reset_Handler};
volatile int counter = 42;  /* .data: initialised from flash, after .text */
void Reset_Handler(void) { for (;;) counter++; }
"""


def link_synthetic_firmware(out_dir: Path) -> Path:
    from mpy_mnist import firmware

    boards = firmware.source_dir() / "ports" / "stm32" / "boards"
    source = out_dir / "synthetic.c"
    source.write_text(SYNTHETIC_FIRMWARE_C)
    elf = out_dir / "firmware.elf"
    subprocess.run(["arm-none-eabi-gcc", "-mthumb", "-mcpu=cortex-m7", "-Os", "-nostdlib", "-ffunction-sections",
                    "-fdata-sections", "-L", str(boards), "-L", str(boards / "common_isr_ram"),
                    "-T", "stm32f746.ld", "-T", "common_ifs.ld", "-Wl,--defsym=_estack_reserve=8",
                    "-Wl,--gc-sections", "-o", str(elf), str(source)], check=True)
    return elf


@pytest.fixture(scope="session")
def disco_build(tmp_path_factory):
    """A directory laid out like the disco build: firmware.elf, then what firmware.py makes of it (firmware0.bin,
    firmware1.bin, firmware.hex), made by the real image-making code."""
    from mpy_mnist import disco_image

    from needs import require_tool

    require_tool("arm-none-eabi-gcc", "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")
    out = tmp_path_factory.mktemp("disco-build")
    disco_image.make(link_synthetic_firmware(out), out)
    return out


@pytest.fixture
def firmware_hex(disco_build):
    return disco_build / "firmware.hex"


@pytest.fixture
def firmware_bins(disco_build):
    return [disco_build / "firmware0.bin", disco_build / "firmware1.bin"]


@pytest.fixture
def stlink_drive(tmp_path):
    """A directory laid out like the ST-LINK/V2-1's USB drive."""
    drive = tmp_path / "media" / "user" / "DIS_F746NG"
    drive.mkdir(parents=True)
    (drive / "MBED.HTM").write_text("<html><body>ST-LINK/V2-1</body></html>\n")
    (drive / "DETAILS.TXT").write_text("Version: 0221\nBuild:   Jan 11 2016 16:12:36\n")
    return drive


@pytest.fixture
def repl():
    made = []

    def start(**kwargs):
        board = ReplOnPty(**kwargs)
        board.start()
        made.append(board)
        return board

    yield start
    for board in made:
        board.close()
