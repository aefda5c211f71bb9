"""The engine inside the product: the emulator firmware (the DSP kernels, compiled with the board's flags) runs the
default model on every exported digit, and its raw int8 scores equal the TFLM runtime's byte for byte for the same
input tensor; the frozen model's packed FC weights lie where the DSP kernel can use them."""

import json

import numpy as np
import pytest

from mpy_mnist import bitmaps, board, emulator, insn_plugin, paths

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
    # The firmware freezes modules generated from these two files (firmware.frozen_manifest).
    labels, _ = bitmaps.read_digits_path(paths.DEFAULT_MODEL_DIR / paths.DIGITS_FILE)
    assert len(rows) == len(labels)
    tflm = runtime.Interpreter.from_bytes((paths.DEFAULT_MODEL_DIR / paths.MODEL_FILE).read_bytes())
    shape = tflm.get_input_details(0)["shape"]
    for index, row in enumerate(rows):
        tflm.set_input(np.array(row["input"], dtype=np.int8).reshape(shape), 0)
        tflm.invoke()
        want = tflm.get_output(0).reshape(-1).astype(int).tolist()
        assert row["raw"] == want, f"digit {index}: firmware {row['raw']}, TFLM runtime {want}"


def test_firmware_uses_the_frozen_models_packed_weights(emulator_firmware, tmp_path):
    """The frozen model sits wherever the linker put it; its packed weights are word-aligned only because the boards
    compile the frozen modules at -O2 (mpconfigboard.mk). Misaligned, the FC kernel would read the int8 weights."""
    report = tmp_path / "firmware.insns"
    plugin = insn_plugin.plugin_arguments(insn_plugin.build_plugin(), insn_plugin.read_symbols(emulator_firmware),
                                          report, "tfl_profile_mark", "tfl_profile_sink")
    with emulator.start(emulator_firmware, extra_args=["-plugin", plugin]) as emu:
        board.run(emu.port, "import mnist\nmnist.decode(0)\nmnist._classifier.invoke()\n")
    functions = {name for window in insn_plugin.read_report(report) for region in window.functions.values()
                 for name in region}
    assert "tfl_arm_fully_connected_eval" in functions
    assert "tfl_arm_fc_pair" in functions
