"""The STM32F746G-DISCO's firmware images: MicroPython's flash layout for the board, making the two images from the
linked ELF, and reading and checking an image before anything writes it.

MicroPython 1.25's STM32F746 layout (ports/stm32/boards/stm32f746.ld, STM32F7DISC/mpconfigboard.mk):

  0x08000000  sector 0 (32 KB)       TEXT0: the vector table (and the few functions it copies to RAM)
  0x08008000  sectors 1-3 (96 KB)    the /flash filesystem, where `mpy-mnist push` puts the model and the app
  0x08020000  sectors 4-7 (896 KB)   TEXT1: the rest of the firmware

The port's `make deploy-stlink` writes TEXT0 and TEXT1 as two files (firmware0.bin, firmware1.bin) at their own
addresses so that flashing leaves the filesystem alone; a plain `objcopy -O binary` of the whole ELF would instead be
one image from 0x08000000 with the filesystem's 96 KB zero-filled inside it.
"""

import subprocess
from pathlib import Path
from typing import NamedTuple


class Part(NamedTuple):
    name: str  # the file the port's Makefile gives this image
    address: int  # where it is written
    end: int  # the first address past the flash it may occupy
    sections: tuple[str, ...]  # the ELF sections it holds: the port's TEXT0_SECTIONS / TEXT1_SECTIONS


TEXT0 = Part("firmware0.bin", 0x08000000, 0x08008000, (".isr_vector", ".isr_extratext"))
TEXT1 = Part("firmware1.bin", 0x08020000, 0x08100000, (".text", ".data", ".ARM"))
PARTS = (TEXT0, TEXT1)
FILESYSTEM = (0x08008000, 0x08020000)  # [start, end): MicroPython's internal-flash /flash
FLASH = (0x08000000, 0x08100000)  # the STM32F746NG's 1 MB of flash
RAM = (0x20000000, 0x20050000)  # DTCM (64 KB) then SRAM1+SRAM2 (256 KB): where an initial stack pointer may point
HEX_NAME = "firmware.hex"  # both images and nothing else, at their addresses
ERASED = 0xFF  # the value of erased flash, for the gaps inside an image

FILESYSTEM_TEXT = f"0x{FILESYSTEM[0]:08X}-0x{FILESYSTEM[1] - 1:08X}"


class ImageError(Exception):
    """Not an image this board can take without harm; the message names the file and the problem."""


def make(elf: Path, out_dir: Path, objcopy: str = "arm-none-eabi-objcopy") -> Path:
    """Write firmware0.bin, firmware1.bin (as the port's Makefile makes them) and firmware.hex (both, nothing
    else) from the linked ELF into out_dir; check the result is the board's layout; return the .hex."""
    for part in PARTS:
        _objcopy(objcopy, "binary", part.sections, elf, out_dir / part.name)
    hex_path = out_dir / HEX_NAME
    _objcopy(objcopy, "ihex", tuple(s for part in PARTS for s in part.sections), elf, hex_path)
    images = read_hex(hex_path)
    for part in PARTS:
        if (out_dir / part.name).read_bytes() != images[part]:
            raise ImageError(f"{out_dir / part.name} differs from that image in {hex_path}: the ELF's sections are "
                             "not laid out as MicroPython's STM32F746 layout expects")
    return hex_path


def _objcopy(objcopy: str, fmt: str, sections: tuple[str, ...], elf: Path, out: Path) -> None:
    picks = [arg for section in sections for arg in ("-j", section)]
    subprocess.run([objcopy, "-O", fmt, *picks, str(elf), str(out)], check=True)


def read_hex(path: Path) -> dict[Part, bytes]:
    """The images an Intel HEX file holds, checked (see place)."""
    segments, base, line_no = [], 0, 0
    try:
        for line_no, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            record = bytes.fromhex(line.strip().lstrip(":"))
            count, offset, kind, data = record[0], int.from_bytes(record[1:3], "big"), record[3], record[4:-1]
            if len(data) != count or sum(record) & 0xFF:
                raise ValueError("bad length or checksum")
            if kind == 0:
                segments.append((base + offset, data))
            elif kind == 1:
                break
            elif kind == 2:
                base = int.from_bytes(data, "big") << 4
            elif kind == 4:
                base = int.from_bytes(data, "big") << 16
            elif kind not in (3, 5):  # start addresses: the board starts from its vector table
                raise ValueError(f"record type {kind}")
    except (ValueError, IndexError, UnicodeDecodeError) as err:
        raise ImageError(f"{path} is not an Intel HEX file (line {line_no}: {err})") from None
    return place(segments, path)


def read_bins(paths: list[Path]) -> dict[Part, bytes]:
    """The images in .bin files: the first at TEXT0's address, the second (if any) at TEXT1's, as the port's
    `make deploy-stlink` writes firmware0.bin and firmware1.bin. Checked (see place)."""
    if not 1 <= len(paths) <= len(PARTS):
        raise ImageError(f"give one or two .bin files ({TEXT0.name} for 0x{TEXT0.address:08X}, then {TEXT1.name} "
                         f"for 0x{TEXT1.address:08X}), not {len(paths)}")
    segments = [(part.address, path.read_bytes()) for part, path in zip(PARTS, paths)]
    return place(segments, " + ".join(map(str, paths)))


def place(segments: list[tuple[int, bytes]], source) -> dict[Part, bytes]:
    """Sort (address, data) segments into TEXT0 and TEXT1 (gaps inside one erased), refusing anything that is not
    an image for this board: bytes in the filesystem or outside flash, no vector table at 0x08000000."""
    images: dict[Part, bytearray] = {}
    for address, data in _runs(segments):
        end = address + len(data)
        if address < FILESYSTEM[1] and end > FILESYSTEM[0]:
            raise ImageError(
                f"{source} writes 0x{max(address, FILESYSTEM[0]):08X}-0x{min(end, FILESYSTEM[1]) - 1:08X}, which "
                f"lies in {FILESYSTEM_TEXT}, MicroPython's /flash filesystem on the STM32F746: writing it would erase "
                f"the model and files pushed there. Flash the two images the build makes ({TEXT0.name} at "
                f"0x{TEXT0.address:08X} and {TEXT1.name} at 0x{TEXT1.address:08X}, or {HEX_NAME}) instead")
        part = next((p for p in PARTS if p.address <= address and end <= p.end), None)
        if part is None:
            raise ImageError(f"{source} writes 0x{address:08X}-0x{end - 1:08X}, outside the STM32F746's flash "
                             f"(0x{FLASH[0]:08X}-0x{FLASH[1] - 1:08X}): not a firmware image for this board")
        image = images.setdefault(part, bytearray())
        start = part.address + len(image)
        if address < start:
            raise ImageError(f"{source} writes 0x{address:08X} twice")
        image += bytes([ERASED]) * (address - start) + data
    for part in PARTS:
        if part not in images:
            raise ImageError(f"{source} holds nothing for 0x{part.address:08X}-0x{part.end - 1:08X} ({part.name}): "
                             "not a MicroPython firmware for this board, which has an image at each of "
                             f"0x{TEXT0.address:08X} and 0x{TEXT1.address:08X}")
    check_vectors(bytes(images[TEXT0]), source)
    return {part: bytes(image) for part, image in images.items()}


def _runs(segments: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """The segments in address order, those that follow on from each other joined (a .hex has 16 bytes a record)."""
    runs: list[tuple[int, bytearray]] = []
    for address, data in sorted(segments):
        if runs and runs[-1][0] + len(runs[-1][1]) == address:
            runs[-1][1].extend(data)
        elif data:
            runs.append((address, bytearray(data)))
    return [(address, bytes(data)) for address, data in runs]


def check_vectors(text0: bytes, source) -> None:
    """A Cortex-M vector table: the initial stack pointer in RAM, the reset handler a Thumb address in flash."""
    if len(text0) < 8:
        raise ImageError(f"{source} is too short to start with a vector table")
    sp, reset = int.from_bytes(text0[0:4], "little"), int.from_bytes(text0[4:8], "little")
    if not RAM[0] < sp <= RAM[1]:
        raise ImageError(f"{source} does not start with a vector table for this board: its initial stack pointer "
                         f"0x{sp:08X} is not in the STM32F746's RAM (0x{RAM[0]:08X}-0x{RAM[1]:08X})")
    if not reset & 1 or not FLASH[0] <= reset & ~1 < FLASH[1]:
        raise ImageError(f"{source} does not start with a vector table for this board: its reset vector "
                         f"0x{reset:08X} is not an odd (Thumb) address inside the flash "
                         f"(0x{FLASH[0]:08X}-0x{FLASH[1] - 1:08X})")


def whole(images: dict[Part, bytes]) -> bytes:
    """One image from 0x08000000 holding both, the filesystem's sectors erased in between: what the ST-LINK drive
    takes (it writes a .bin from the start of flash)."""
    out = bytearray()
    for part in PARTS:
        out += bytes([ERASED]) * (part.address - TEXT0.address - len(out)) + images[part]
    return bytes(out)
