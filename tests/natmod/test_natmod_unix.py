"""tflite.mpy for x64 inside a stock MicroPython unix port (built without our module): every kernel model and the
TFLM example models give the TFLM runtime's bytes; the built-in module's API test script prints the same lines
with either module; malformed models meet the same exceptions and messages as with the built-in module."""

import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))  # the engine tier's cases and models

import kernel_models  # noqa: E402
import malformed_models  # noqa: E402
import test_kernels  # noqa: E402
import test_loader  # noqa: E402
import test_module_unix  # noqa: E402

pytestmark = pytest.mark.unix

RUN_CASES = r"""
import tflite
for name, inputs_count, trials in CASES:
    it = tflite.Interpreter(open(DIR + '/' + name + '.tflite', 'rb').read())
    inputs = open(DIR + '/' + name + '.in', 'rb').read()
    sizes = [len(bytes(it.input(i))) for i in range(inputs_count)]
    offset = 0
    for trial in range(trials):
        for i in range(inputs_count):
            it.set_input(inputs[offset:offset + sizes[i]], i)
            offset += sizes[i]
        it.invoke()
        print(name, trial, bytes(it.get_output(0)).hex())
"""

RUN_VARIANTS = r"""
import tflite
f = open(VARIANTS, 'rb')
while True:
    head = f.read(4)
    if not head:
        break
    model = f.read(int.from_bytes(head, 'little'))
    try:
        it = tflite.Interpreter(model, arena_size=65536)
        it.set_input(bytes((j * 37) & 255 for j in range(len(bytes(it.input(0))))), 0)
        it.invoke()
        print('ran', bytes(it.get_output(0)).hex())
    except (ValueError, NotImplementedError, MemoryError) as e:
        print(type(e).__name__, e)
"""


def micropython(binary: Path, code: str, module_dir: Path | None) -> list[str]:
    """Run `code` in a unix MicroPython; with module_dir, that directory is its whole sys.path (tflite.mpy)."""
    env = {"MICROPYPATH": str(module_dir)} if module_dir else {}
    result = subprocess.run([str(binary), "-X", "heapsize=64M", "-c", code], capture_output=True, text=True,
                            timeout=900, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout.splitlines()


@pytest.fixture(scope="module")
def module_dir(natmod_x64, tmp_path_factory):
    directory = tmp_path_factory.mktemp("natmod-x64")
    (directory / "tflite.mpy").write_bytes(natmod_x64.read_bytes())
    return directory


def tflm_outputs(name: str, model: bytes, inputs: list[list[np.ndarray]], directory: Path) -> list[str]:
    """Write the model and its inputs (trial by trial) for RUN_CASES; the TFLM runtime's output lines."""
    reference = test_kernels._tflm_runtime().Interpreter.from_bytes(model, arena_size=test_kernels.TFLM_ARENA_BYTES)
    (directory / f"{name}.tflite").write_bytes(model)
    lines = []
    with open(directory / f"{name}.in", "wb") as data:
        for trial, values in enumerate(zip(*inputs)):
            for index, value in enumerate(values):
                reference.set_input(value, index)
                data.write(value.tobytes())
            reference.invoke()
            lines.append(f"{name} {trial} {reference.get_output(0).tobytes().hex()}")
    return lines


def run_cases(stock_unix_micropython, module_dir, directory, cases, expected):
    code = f"DIR = {str(directory)!r}\nCASES = {cases!r}\n" + RUN_CASES
    got = micropython(stock_unix_micropython, code, module_dir)
    differing = sorted({want.split()[0] for want, line in zip(expected, got) if want != line})
    assert len(got) == len(expected) and not differing, f"differ from the TFLM runtime: {differing}"


def test_every_kernel_model_matches_tflm(stock_unix_micropython, module_dir, tmp_path):
    cases, expected = [], []
    for number, param in enumerate(test_kernels.CASES):
        spec = param.values[0]
        model = kernel_models.model_bytes(spec)
        reference = test_kernels._tflm_runtime().Interpreter.from_bytes(model, arena_size=test_kernels.TFLM_ARENA_BYTES)
        inputs_count = len(kernel_models.input_shapes(spec))
        rng = np.random.default_rng(0)
        inputs = [test_kernels.random_inputs(reference.get_input_details(i), spec, rng, test_kernels.INPUTS_PER_CASE)
                  for i in range(inputs_count)]
        name = f"case{number}"
        expected += tflm_outputs(name, model, inputs, tmp_path)
        cases.append((name, inputs_count, test_kernels.INPUTS_PER_CASE))
    run_cases(stock_unix_micropython, module_dir, tmp_path, cases, expected)


def test_tflm_example_models_match_tflm(stock_unix_micropython, module_dir, tmp_path):
    cases, expected = [], []
    for name, trials in test_loader.RUNNABLE.items():
        model = test_loader.model_bytes(name)
        details = test_loader.tflm(model).get_input_details(0)
        rng = np.random.default_rng(1)
        inputs = [[test_loader.random_input(details, rng) for _ in range(trials)]]
        expected += tflm_outputs(name, model, inputs, tmp_path)
        cases.append((name, 1, trials))
    run_cases(stock_unix_micropython, module_dir, tmp_path, cases, expected)


def test_api_script_prints_the_same_as_the_builtin_module(unix_micropython, stock_unix_micropython, module_dir):
    """The built-in module's whole API test (outputs, arena, ops, OPS, every error message, malformed variants,
    views outliving the interpreter), run once with each module: the same lines."""
    code = (f"MODELS = {str(test_loader.MODELS)!r}\nNAMES = {list(test_loader.RUNNABLE)!r}\n"
            + test_module_unix.SCRIPT)
    builtin = micropython(unix_micropython, code, None)
    native = micropython(stock_unix_micropython, code, module_dir)
    assert native == builtin
    assert any(line.startswith("error MemoryError arena_size=64 is too small") for line in native)


def test_malformed_models_meet_the_builtin_modules_errors(unix_micropython, stock_unix_micropython, module_dir,
                                                          tmp_path):
    variants_file = tmp_path / "variants.bin"
    count = 0
    with open(variants_file, "wb") as out:
        for name in ("hello_world_int8", "hello_world_float", "keyword_scrambled_8bit"):
            for variant in malformed_models.variants(test_loader.model_bytes(name), seed=len(name)):
                out.write(struct.pack("<I", len(variant)) + variant)
                count += 1
        for crash in sorted(test_loader.FUZZ_CRASHES.iterdir()):
            out.write(struct.pack("<I", crash.stat().st_size) + crash.read_bytes())
            count += 1
    code = f"VARIANTS = {str(variants_file)!r}\n" + RUN_VARIANTS
    builtin = micropython(unix_micropython, code, None)
    native = micropython(stock_unix_micropython, code, module_dir)
    assert len(native) == count
    assert native == builtin
    kinds = {line.split()[0] for line in native}
    assert {"ran", "ValueError", "NotImplementedError"} <= kinds, kinds


def test_the_command_builds_and_prints_the_module(natmod_x64, tmp_path):
    from mpy_mnist import paths

    out = tmp_path / "sub" / "tflite.mpy"
    env = {**os.environ, "PYTHONPATH": str(paths.REPO_ROOT / "host")}
    result = subprocess.run([sys.executable, "-m", "mpy_mnist", "firmware", "natmod", "--arch", "x64", "--out",
                             str(out)], capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    assert out.read_bytes() == natmod_x64.read_bytes()
    assert out.read_bytes()[:3] == b"M\x06" + bytes([2 << 2 | 3])  # .mpy 6.3, arch x64
    result = subprocess.run([sys.executable, "-m", "mpy_mnist", "firmware", "natmod", "--arch", "xtensa"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 2 and "'xtensa' is not one of" in result.stderr
