"""Every engine source compiles for the board's Cortex-M7 with the firmware's own float flags and -Werror, and the
code size is printed. Much faster than a firmware build, and names the file that breaks it."""

import subprocess

from needs import require_tool

from mpy_mnist import baremetal, engine, paths

# The firmware's own flags (the STM32F746's single-precision FPU, -Werror, any silent promotion to double an
# error), plus -Wextra.
ARM_FLAGS = [*baremetal.FIRMWARE_CFLAGS, "-Wextra"]


def test_engine_compiles_for_cortex_m7_with_the_firmware_flags(tmp_path):
    gcc = require_tool("arm-none-eabi-gcc", "apt-get install gcc-arm-none-eabi (scripts/setup.sh does)")
    failures, objects = [], []
    for source in engine.engine_sources():
        obj = tmp_path / (source.relative_to(paths.ENGINE_DIR).as_posix().replace("/", "_") + ".o")
        result = subprocess.run([gcc, *ARM_FLAGS, "-c", str(source), "-o", str(obj)], capture_output=True, text=True)
        if result.returncode != 0:
            failures.append(f"{source.name}:\n{result.stderr[:1500]}")
        else:
            objects.append(str(obj))
    assert not failures, "\n".join(failures)
    sizes = subprocess.run(["arm-none-eabi-size", "-t", *objects], capture_output=True, text=True, check=True)
    print(sizes.stdout)
    total_text = int(sizes.stdout.splitlines()[-1].split()[0])
    assert 0 < total_text < 128 * 1024  # the engine must stay a small part of the 1 MB flash
