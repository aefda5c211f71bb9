"""The stm32 port's make for our DISCO board, run with `-n` (every command it would run, none run) where ST's HAL is
missing: on a view of the MicroPython source laid out as the README's recipe has it (a v1.25.0 checkout where only
lib/stm32lib was initialised), lib/stm32lib a stand-in holding only the headers make and the preprocessor open by
name. Its command lines are the port's exact compiler invocations, which the tests read."""

import re
import shlex
import subprocess
from pathlib import Path

from mpy_mnist import firmware

STM32LIB = "lib/stm32lib"
# What the real stm32f7xx_hal.h brings in that the port's headers test before anything else: the series macro
# (defined by the CMSIS device header stm32f7xx.h it includes).
HAL_STAND_IN = "#define STM32F7\n"


def recipe_view(src: Path, root: Path) -> Path:
    """Symlinks to src, laid out as `git clone -b v1.25.0` + `git submodule update --init lib/stm32lib` has it."""
    submodules = re.findall(r"^\s*path\s*=\s*(\S+)", (src / ".gitmodules").read_text(), re.M)
    real_dirs = {"lib", "ports", "ports/stm32", *submodules}  # directories made here; everything else a symlink

    def mirror(rel: str) -> None:
        (root / rel).mkdir(parents=True, exist_ok=True)
        if rel in submodules:
            return  # an uninitialised submodule: an empty directory
        for entry in (src / rel).iterdir():
            child = f"{rel}/{entry.name}" if rel else entry.name
            if child in real_dirs:
                mirror(child)
            else:
                (root / child).symlink_to(entry)

    mirror("")
    assert STM32LIB in submodules
    hal = root / STM32LIB / "STM32F7xx_HAL_Driver" / "Inc" / "stm32f7xx_hal.h"
    hal.parent.mkdir(parents=True)
    hal.write_text(HAL_STAND_IN)
    return root


def dry_run(view: Path, out: Path, board_dir: Path | None = None) -> str:
    """`make -n` of the build's own command, pointed at the view; stm32lib files make asks for by name appear empty."""
    command = firmware.disco_make_command(view, out)
    if board_dir is not None:
        command = [f"BOARD_DIR={board_dir}" if arg.startswith("BOARD_DIR=") else arg for arg in command]
    for _ in range(5):
        result = subprocess.run([*command[1:], "-n"], capture_output=True, text=True, timeout=300)
        wanted = re.findall(r"No rule to make target '([^']*)'", result.stderr)
        stand_ins = [Path(view / "ports" / "stm32" / w).resolve() for w in wanted]
        if not stand_ins or not all(str(p).startswith(str(view / STM32LIB)) for p in stand_ins):
            break
        for path in stand_ins:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def compile_lines(log: str) -> dict[str, list[str]]:
    """source -> the compiler's arguments, from make's `CC <source>` lines and the command after each."""
    lines = log.splitlines()
    compiled = {}
    for i, line in enumerate(lines):
        m = re.fullmatch(r'echo "CC (.+)"', line)
        if m:
            argv = shlex.split(lines[i + 1].split(" || ")[0])
            assert argv[0] == "arm-none-eabi-gcc"
            compiled[m[1]] = argv
    return compiled


def linked_objects(log: str, out: Path) -> list[str]:
    link = next(line for line in log.splitlines() if " -o " + str(out / "firmware.elf") in line)
    # $(BUILD)/<stem>.o, where a board file given by absolute path keeps its leading slash ($(BUILD)//abs/x.o)
    return [arg[len(str(out)) + 1:-2] for arg in shlex.split(link) if arg.endswith(".o")]


def compiler_flags(argv: list[str]) -> list[str]:
    """A compile line's flags, without the compiler, its -c and what follows (output, source) and the -M options."""
    return [arg for arg in argv[1:argv.index("-c")] if not arg.startswith("-M")]
