"""The tflite module compiled exactly as the DISCO firmware compiles it, and what it costs in flash."""

import re
import shutil
import subprocess

from disco_make import compile_lines, compiler_flags, dry_run, recipe_view
from needs import require_tool

from mpy_mnist import baremetal, engine, firmware, paths

TFLITE_DIR = paths.CMODULES_DIR / "tflite"
FLASH_BUDGET = 160 * 1024  # of the board's 1 MiB, next to MicroPython's ~500 KiB and the frozen model


def text_and_data(size_exe: str, objects) -> int:
    out = subprocess.run([size_exe, "--totals", *map(str, objects)], capture_output=True, text=True, check=True)
    text, data = re.search(r"^\s*(\d+)\s+(\d+)\s+\d+\s+\d+\s+\w+\s+\(TOTALS\)", out.stdout, re.M).groups()
    return int(text) + int(data)


def test_engine_compiles_cleanly_with_the_disco_flags_and_fits(tmp_path, emulator_firmware):
    # The emulator_firmware fixture has required the ARM toolchain (gcc and its binutils) already.
    require_tool("make", "apt-get install make")
    size_exe = shutil.which("arm-none-eabi-size")
    # The stm32 port's own command line for each engine file (make -n of the disco build: the port's flags, -Werror,
    # our board's and micropython.mk's additions), run here with only the output file changed.
    view = recipe_view(firmware.source_dir(), tmp_path / "micropython")
    port = view / "ports" / "stm32"
    compiled = compile_lines(dry_run(view, tmp_path / "disco"))
    engine_sources = [src for src in compiled if src.startswith(str(TFLITE_DIR / "engine"))]
    assert sorted(engine_sources) == sorted(str(path) for path in engine.engine_sources())
    objects = []
    for source in engine_sources:
        obj = tmp_path / (source.replace("/", "_") + ".o")
        argv = [compiled[source][0], *compiler_flags(compiled[source]), "-c", source, "-o", str(obj)]
        assert "-Werror" in argv and "-ffp-contract=off" in argv and "-fno-single-precision-constant" in argv
        # The bare-metal engine programs (bench, kernel checks) compile with the same flags, or they measure other code.
        assert set(baremetal.FIRMWARE_CFLAGS) <= set(argv), source
        result = subprocess.run(argv, cwd=port, capture_output=True, text=True)
        assert result.returncode == 0, f"{source}:\n{result.stderr}"
        objects.append(obj)
    engine_bytes = text_and_data(size_exe, objects)
    # The binding needs MicroPython's generated headers: take it from the emulator build, same machine flags.
    binding = text_and_data(size_exe, [firmware.build_dir("emulator") / "tflite" / name
                                       for name in ("modtflite.o", "tflite_builtin.o")])
    print(f"\ntflite flash (text+data, before --gc-sections): engine {engine_bytes} B, binding {binding} B")
    assert 0 < engine_bytes + binding < FLASH_BUDGET
