"""The converter's packed weights (host/mpy_mnist/packing.py) change nothing for LiteRT and the TFLM runtime: every
output byte of the packed model equals the unpacked one's on all 10,000 MNIST test digits. pack() is a function of
the bytes (packing a packed model gives the same bytes), and the payloads lie 16-aligned in the file."""

import numpy as np
import pytest

import kernel_models
import test_kernels
from mpy_mnist import data, evaluate, packing

CNN = dict(op="mnist_cnn", dtype="int8", input=[1, 28, 28, 1], range=[0, 1])  # CONV, DEPTHWISE, pools, FC 10


def _litert_outputs(model: bytes, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_content=model)
    interpreter.allocate_tensors()
    source, target = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    outputs = []
    for image in x:
        interpreter.set_tensor(source, image[np.newaxis])
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(target).copy())
    return np.stack(outputs)


def _tflm_outputs(model: bytes, x: np.ndarray) -> np.ndarray:
    interpreter = test_kernels._tflm_runtime().Interpreter.from_bytes(model, arena_size=test_kernels.TFLM_ARENA_BYTES)
    outputs = []
    for image in x:
        interpreter.set_input(image[np.newaxis], 0)
        interpreter.invoke()
        outputs.append(interpreter.get_output(0).copy())
    return np.stack(outputs)


def test_pack_adds_aligned_fully_connected_weights_once():
    model = kernel_models.model_bytes(CNN)
    packed = packing.pack(model)
    records = packing.packed_payloads(packed)
    assert [(r["layout"], r["start"] % packing.ALIGN) for r in records] == [(packing.LAYOUT_FC_PAIRS, 0)]
    assert packing.pack(packed) == packed
    assert packing.packed_payloads(model) == []
    float_model = kernel_models.model_bytes(dict(CNN, dtype="float32"))
    assert packing.pack(float_model) == float_model  # nothing to pack: the same bytes


@pytest.mark.slow
@pytest.mark.parametrize("runtime", ["litert", "tflm"])
def test_packed_model_gives_the_same_output_bytes(runtime):
    images, _ = data.load_test_set()
    model = kernel_models.model_bytes(CNN)
    packed = packing.pack(model)
    assert len(packed) > len(model)
    x = evaluate.model_input(model, images[..., np.newaxis] / np.float32(255))
    outputs = _litert_outputs if runtime == "litert" else _tflm_outputs
    np.testing.assert_array_equal(outputs(packed, x), outputs(model, x))
