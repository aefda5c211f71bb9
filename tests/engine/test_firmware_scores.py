"""The engine inside the product: the emulator firmware (the DSP kernels, compiled with the board's flags) runs the
default model on every exported digit, and its raw int8 scores equal the TFLM runtime's byte for byte for the same
input tensor."""

import ast
import json

import numpy as np
import pytest

from mpy_mnist import board, emulator, paths

pytestmark = pytest.mark.emulator

# The input is read back before invoke: the graph reuses its memory once done with it.
SCRIPT = """
import json, mnist
from mnist_digits import LABELS
for i in range(len(LABELS)):
    values = mnist.decode(i)
    mnist._classifier.invoke()
    print(json.dumps(dict(input=values, raw=mnist._classifier.raw_scores())))
"""


def _frozen(module: str, name: str):
    tree = ast.parse((paths.DEFAULT_MODEL_DIR / module).read_text())
    return next(ast.literal_eval(node.value) for node in tree.body
                if isinstance(node, ast.Assign) and node.targets[0].id == name)


def test_firmware_scores_equal_tflm_for_every_exported_digit(emulator_firmware):
    from tflite_micro import runtime

    printed = []
    with emulator.start(emulator_firmware) as emu:
        board.run(emu.port, SCRIPT, output=printed.append)
    rows = [json.loads(line) for line in b"".join(printed).decode().splitlines() if line.startswith("{")]
    assert len(rows) == len(_frozen(paths.DIGITS_MODULE, "LABELS"))
    tflm = runtime.Interpreter.from_bytes(_frozen(paths.MODEL_MODULE, "MODEL"))
    shape = tflm.get_input_details(0)["shape"]
    for index, row in enumerate(rows):
        tflm.set_input(np.array(row["input"], dtype=np.int8).reshape(shape), 0)
        tflm.invoke()
        want = tflm.get_output(0).reshape(-1).astype(int).tolist()
        assert row["raw"] == want, f"digit {index}: firmware {row['raw']}, TFLM runtime {want}"
