"""The engine inside the product: the emulator firmware (the DSP kernels, compiled with the board's flags) runs the
default model on every exported digit, and its raw int8 scores equal the TFLM runtime's byte for byte for the same
input tensor."""

import json

import numpy as np
import pytest

from mpy_mnist import bitmaps, board, emulator, paths

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


def test_firmware_scores_equal_tflm_for_every_exported_digit(emulator_firmware):
    from tflite_micro import runtime

    printed = []
    with emulator.start(emulator_firmware) as emu:
        board.run(emu.port, SCRIPT, output=printed.append)
    rows = [json.loads(line) for line in b"".join(printed).decode().splitlines() if line.startswith("{")]
    # What the firmware froze, from the one copy in the repository (mnist_digits.py is written into its build)
    labels, _ = bitmaps.read_digits_file((paths.DEFAULT_MODEL_DIR / paths.DIGITS_FILE).read_bytes())
    assert len(rows) == len(labels)
    tflm = runtime.Interpreter.from_bytes((paths.DEFAULT_MODEL_DIR / paths.MODEL_FILE).read_bytes())
    shape = tflm.get_input_details(0)["shape"]
    for index, row in enumerate(rows):
        tflm.set_input(np.array(row["input"], dtype=np.int8).reshape(shape), 0)
        tflm.invoke()
        want = tflm.get_output(0).reshape(-1).astype(int).tolist()
        assert row["raw"] == want, f"digit {index}: firmware {row['raw']}, TFLM runtime {want}"
