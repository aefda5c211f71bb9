"""The tflite module compiled exactly as the DISCO firmware compiles it, and what it costs in flash."""

import re
import shutil
import subprocess

import pytest

from mpy_mnist import baremetal, engine, firmware, paths

TFLITE_DIR = paths.CMODULES_DIR / "tflite"
ENGINE_FLAGS = [*baremetal.FIRMWARE_CFLAGS, f"-I{TFLITE_DIR}"]
FLASH_BUDGET = 160 * 1024  # of the board's 1 MiB, next to MicroPython's ~500 KiB and the frozen model


def text_and_data(size_exe: str, objects) -> int:
    out = subprocess.run([size_exe, "--totals", *map(str, objects)], capture_output=True, text=True, check=True)
    text, data = re.search(r"^\s*(\d+)\s+(\d+)\s+\d+\s+\d+\s+\w+\s+\(TOTALS\)", out.stdout, re.M).groups()
    return int(text) + int(data)


def test_engine_compiles_cleanly_with_the_disco_flags_and_fits(tmp_path, emulator_firmware):
    # The emulator_firmware fixture has required the ARM toolchain (gcc and its binutils) already.
    gcc, size_exe = shutil.which("arm-none-eabi-gcc"), shutil.which("arm-none-eabi-size")
    objects = []
    for source in engine.engine_sources():  # what micropython.mk compiles
        obj = tmp_path / (source.relative_to(TFLITE_DIR).as_posix().replace("/", "_") + ".o")
        result = subprocess.run([gcc, *ENGINE_FLAGS, "-c", str(source), "-o", str(obj)], capture_output=True,
                                text=True)
        assert result.returncode == 0, f"{source}:\n{result.stderr}"
        objects.append(obj)
    engine_bytes = text_and_data(size_exe, objects)
    # The binding needs MicroPython's generated headers: take it from the emulator build, same machine flags.
    binding = text_and_data(size_exe, [firmware.build_dir("emulator") / "tflite" / "modtflite.o"])
    print(f"\ntflite flash (text+data, before --gc-sections): engine {engine_bytes} B, binding {binding} B")
    assert 0 < engine_bytes + binding < FLASH_BUDGET
