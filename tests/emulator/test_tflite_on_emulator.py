"""The engine on the emulated Cortex-M7, compiled as for the DISCO board: real TFLM example models, pushed to
/flash with mpremote, give the same output bytes as the TFLM runtime on the host."""

import subprocess
import sys

import numpy as np
import pytest

from mpy_mnist import emulator, paths

pytestmark = pytest.mark.emulator

# Models nobody on this project made (TFLM's examples, copied from the shared folder into tests/engine/models).
MODELS = ("hello_world_int8.tflite", "hello_world_float.tflite", "micro_speech_quantized.tflite")
RUNS = 4

DEVICE_SCRIPT = """
import tflite
model = open('/flash/model.tflite', 'rb').read()
inputs = open('/flash/inputs.bin', 'rb').read()
it = tflite.Interpreter(model)
size = len(inputs) // {runs}
for k in range({runs}):
    it.set_input(inputs[k * size:(k + 1) * size], 0)
    it.invoke()
    print('out', bytes(it.get_output(0)).hex())
"""


def tflm_examples_dir():
    # The engine's tests keep a copy of the shared folder's models, so that a clone tests alone.
    return paths.REPO_ROOT / "tests" / "engine" / "models"


def random_inputs(detail, rng):
    shape, dtype = tuple(detail["shape"]), detail["dtype"]
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return [rng.integers(info.min, info.max + 1, size=shape).astype(dtype) for _ in range(RUNS)]
    return [rng.uniform(0, 2 * np.pi, size=shape).astype(dtype) for _ in range(RUNS)]


@pytest.fixture(scope="module")
def board(emulator_firmware):
    with emulator.start(emulator_firmware) as emu:
        yield emu


@pytest.mark.parametrize("name", MODELS)
def test_model_output_matches_tflm_runtime(board, tmp_path, name):
    from tflite_micro import runtime

    model = (tflm_examples_dir() / name).read_bytes()
    tflm = runtime.Interpreter.from_bytes(model)
    inputs = random_inputs(tflm.get_input_details(0), np.random.default_rng(len(name)))
    expected = []
    for data in inputs:
        tflm.set_input(data, 0)
        tflm.invoke()
        expected.append(tflm.get_output(0).tobytes().hex())

    (tmp_path / "model.tflite").write_bytes(model)
    (tmp_path / "inputs.bin").write_bytes(b"".join(data.tobytes() for data in inputs))
    (tmp_path / "run.py").write_text(DEVICE_SCRIPT.format(runs=RUNS))
    result = subprocess.run([sys.executable, "-m", "mpremote", "connect", board.port,
                             "fs", "cp", str(tmp_path / "model.tflite"), ":/flash/model.tflite", "+",
                             "fs", "cp", str(tmp_path / "inputs.bin"), ":/flash/inputs.bin", "+",
                             "run", str(tmp_path / "run.py")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    got = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("out ")]
    assert got == expected
