"""The disco build recipe, checked without ST's HAL: README "Firmware" builds from a MicroPython v1.25.0 checkout
where only lib/stm32lib was initialised, which this machine does not have. So the stm32 port's own make is run with
`-n` (every command it would run, none run) on a view of the source laid out as that checkout is: every git
submodule but lib/stm32lib empty, and lib/stm32lib a stand-in holding only the two headers make and the
preprocessor open by name. From make's own command lines: every object it links must have a source in that tree,
the C files it compiles must include nothing from an empty submodule (lwIP was the one that broke the build), and
the engine's -ffp-contract=off must reach the engine's objects and nothing else. Each check is also run on
MicroPython's unmodified STM32F7DISC board, where it must fail, so that it is known to be able to."""

import json
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
from disco_make import STM32LIB, compile_lines, compiler_flags, dry_run, linked_objects, recipe_view
from needs import require_tool

from mpy_mnist import firmware, paths

ENGINE_FLAG = "-ffp-contract=off"


def sources_missing(view: Path, out: Path, log: str) -> list[str]:
    """Linked objects with no source in the view (the port's vpath: port dir, top, user C modules; or generated)."""
    roots = [view / "ports" / "stm32", view, paths.CMODULES_DIR]
    missing = []
    for stem in linked_objects(log, out):
        if stem.startswith(STM32LIB) or f"{out}/{stem}.c" in log:
            continue  # the HAL itself (what the recipe's one submodule holds), or a file the build generates
        if not any((root / f"{stem}{ext}").exists() for root in roots for ext in (".c", ".s", ".S")):
            missing.append(stem)
    return missing


def headers_missing(view: Path, out: Path, log: str) -> dict[str, set[str]]:
    """header -> the C files that include it, for headers that exist nowhere in the view: each file preprocessed
    with make's own flags (as the port's qstr pass does, -DNO_QSTR), missing headers listed instead of fatal."""
    port = view / "ports" / "stm32"
    missing = defaultdict(set)
    for source, argv in compile_lines(log).items():
        if not source.endswith(".c") or source.startswith(str(out)):  # not the generated ones (pins, frozen)
            continue
        flags = [arg for arg in compiler_flags(argv) if not arg.startswith("-W")]  # warnings are the compiler's
        deps = subprocess.run(["arm-none-eabi-gcc", *flags, "-DNO_QSTR", "-M", "-MG", source], cwd=port,
                              capture_output=True, text=True, timeout=120)
        assert deps.returncode == 0, f"{source}: {deps.stderr[-1500:]}"
        for header in deps.stdout.replace("\\\n", " ").split()[2:]:
            if not header.startswith("genhdr/") and not (port / header).exists():
                missing[header].add(source)
    return missing


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    require_tool("make", "apt-get install make")
    require_tool("arm-none-eabi-gcc", "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")
    view = recipe_view(firmware.source_dir(), tmp_path_factory.mktemp("recipe") / "micropython")
    ours = tmp_path_factory.mktemp("build") / "disco"
    theirs = tmp_path_factory.mktemp("build") / "stm32f7disc"
    stock_board = view / "ports" / "stm32" / "boards" / "STM32F7DISC"
    return view, (ours, dry_run(view, ours)), (theirs, dry_run(view, theirs, stock_board))


def test_every_linked_object_has_its_source_in_the_recipes_checkout(recipe):
    view, (ours, log), (theirs, stock_log) = recipe
    assert len(linked_objects(log, ours)) > 300
    assert sources_missing(view, ours, log) == []
    # MicroPython's own board links lwIP's and mbedTLS's objects, whose sources the recipe does not have.
    stock_missing = sources_missing(view, theirs, stock_log)
    assert any(stem.startswith("lib/lwip/") for stem in stock_missing)
    assert any(stem.startswith("lib/mbedtls/") for stem in stock_missing)


def test_no_compiled_file_includes_a_header_from_a_missing_library(recipe):
    view, (ours, log), (theirs, stock_log) = recipe
    missing = headers_missing(view, ours, log)
    # Everything a compiled file includes is in the recipe's tree (ST's HAL through the stand-in's one header).
    assert dict(missing) == {}
    compiled = compile_lines(log)
    assert {"eth.c", "network_lan.c"} <= set(compiled)  # still compiled: to nothing, as the check above shows
    stock = headers_missing(view, theirs, stock_log)
    assert "lwip/etharp.h" in stock and "eth.c" in stock["lwip/etharp.h"]
    assert "lwip/netif.h" in stock and "network_lan.c" in stock["lwip/netif.h"]


def test_fp_contract_off_reaches_the_engine_and_nothing_else(recipe):
    _, (_, log), _ = recipe
    compiled = compile_lines(log)
    engine = {src for src in compiled if src.startswith(str(paths.CMODULES_DIR / "tflite"))}
    assert engine and all(ENGINE_FLAG in compiled[src] for src in engine)
    others = sorted(src for src in compiled if src not in engine and ENGINE_FLAG in compiled[src])
    assert others == [], f"{len(others)} MicroPython files compiled with {ENGINE_FLAG}, e.g. {others[:3]}"
    # The engine also keeps double-precision constants (see MNIST_F746DISCO/mpconfigboard.mk), and nothing else does.
    assert all("-fno-single-precision-constant" in compiled[src] for src in engine)
    assert not any("-fno-single-precision-constant" in compiled[src] for src in compiled if src not in engine)


CMAKE_PORT = """
cmake_minimum_required(VERSION 3.13)
project(firmware C)
add_library(usermod INTERFACE)
include({module})
add_executable(firmware main.c)
target_link_libraries(firmware usermod)
"""


def test_cmake_ports_put_fp_contract_off_on_the_module_only(tmp_path):
    # As MicroPython's cmake ports (rp2, esp32) do: an INTERFACE target `usermod`, the module's .cmake included into
    # the port's directory, the firmware linking usermod. CMake's compile database says what each file gets.
    require_tool("cmake", "apt-get install cmake")
    module = paths.CMODULES_DIR / "tflite" / "micropython.cmake"
    (tmp_path / "CMakeLists.txt").write_text(CMAKE_PORT.format(module=module))
    (tmp_path / "main.c").write_text("int main(void) { return 0; }\n")
    subprocess.run(["cmake", "-S", str(tmp_path), "-B", str(tmp_path / "build"), "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON"],
                   check=True, capture_output=True, timeout=120)
    database = json.loads((tmp_path / "build" / "compile_commands.json").read_text())
    commands = {Path(entry["file"]).name: entry["command"] for entry in database}
    assert ENGINE_FLAG not in commands.pop("main.c")
    assert "modtflite.c" in commands and "conv.c" in commands
    assert all(ENGINE_FLAG in command for command in commands.values())


def test_our_board_c_compiles_with_the_ports_flags(recipe):
    # mnist_soft_reset.c (the LCD layer off at the end of a soft reset) under make's own command, -Werror included;
    # syntax and types only, since the real HAL and the generated headers are not here.
    view, (ours, log), _ = recipe
    compiled = compile_lines(log)
    (source,) = [src for src in compiled if src.endswith("/mnist_soft_reset.c")]
    flags = compiler_flags(compiled[source])
    assert "-Werror" in flags
    result = subprocess.run(["arm-none-eabi-gcc", *flags, "-DNO_QSTR", "-fsyntax-only", source],
                            cwd=view / "ports" / "stm32", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_the_frozen_modules_are_compiled_at_o2(recipe):
    """At -O2 (after the board's -Os) GCC word-aligns string constants, so the frozen model's packed FC weights are
    word-aligned for the DSP kernel (MNIST_F746DISCO/mpconfigboard.mk; the emulator's twin is checked by running it,
    tests/engine/test_firmware_scores.py)."""
    _, (_, log), _ = recipe
    (argv,) = [argv for source, argv in compile_lines(log).items() if source.endswith("frozen_content.c")]
    levels = [arg for arg in argv if arg in ("-Os", "-O2")]
    assert levels[-1] == "-O2", levels
