"""Keras -> .tflite with a fixed batch of 1: full-integer int8 (the default) or float32; and the op-list check.

A fixed batch of 1 keeps dynamic-shape ops (SHAPE, STRIDED_SLICE, PACK) out of the graph, so the model runs on
our device engine, which supports exactly engine_ops() (its own kernel table) with the fused activations
ENGINE_FUSED_ACTIVATIONS.
"""

import contextlib
import io
import warnings

import keras
import numpy as np
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as schema

from . import engine, models, packing

# Every kernel with a fused activation takes these (TANH it refuses).
ENGINE_FUSED_ACTIVATIONS = frozenset({"NONE", "RELU", "RELU6", "RELU_N1_TO_1"})
REPRESENTATIVE_COUNT = 500

_OP_NAMES = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
_ACTIVATION_NAMES = {code: name for name, code in vars(schema.ActivationFunctionType).items()
                     if not name.startswith("_")}


class UnsupportedOpsError(Exception):
    """The converted model uses an op or fused activation the device engine cannot run."""


def engine_ops() -> frozenset:
    """The ops the device engine runs: its kernel table (kernels/registry.c), read from the host build."""
    return frozenset(engine.supported_ops())


def representative_images(train_images: np.ndarray, count: int = REPRESENTATIVE_COUNT, seed: int = 0) -> np.ndarray:
    """Model inputs for calibration: training digits, half of them binarised as the device feeds them."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(train_images), size=min(count, len(train_images)), replace=False)
    x = models.to_model_input(train_images[chosen])
    half = len(x) // 2
    x[:half] = models.binarize_input(x[:half])
    return x


def to_tflite(model, train_images: np.ndarray | None = None, float32: bool = False) -> bytes:
    """Convert a Keras model taking (28, 28, 1) floats to .tflite bytes, batch 1.

    int8 (default): int8 input and output, every op int8, calibrated on `train_images` (uint8, N x 28 x 28), with
    the device's packed weights added (packing.pack).
    float32=True: a plain float model; train_images is not needed.
    """
    image = keras.Input(models.INPUT_SHAPE, batch_size=1, name="image")
    fixed_batch = keras.Model(image, model(image, training=False))
    converter = tf.lite.TFLiteConverter.from_keras_model(fixed_batch)
    if not float32:
        if train_images is None:
            raise ValueError("int8 conversion needs training images for calibration (or pass float32=True)")
        calibration = representative_images(train_images)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([x[np.newaxis]] for x in calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        # the exporter prints its temporary SavedModel's signature; the int8 input needs no "statistics" warning:
        # its range comes from the representative digits
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
        tflite = bytes(converter.convert())
    return tflite if float32 else packing.pack(tflite)


def _model(tflite: bytes):
    """The parsed model, or ValueError when the bytes are not a readable .tflite."""
    if tflite[4:8] != b"TFL3":
        raise ValueError(f"not a .tflite model ({len(tflite)} bytes, no TFL3 identifier at byte 4)")
    try:
        return schema.ModelT.InitFromPackedBuf(bytearray(tflite), 0)
    except Exception as error:  # the flatbuffers reader fails on damaged data with whatever it meets
        raise ValueError(f"a damaged .tflite model ({len(tflite)} bytes): {type(error).__name__}: {error}") from None


def op_list(tflite: bytes) -> list[str]:
    """The ops of the main graph in execution order, each as NAME or NAME+ACTIVATION when an activation is fused."""
    model = _model(tflite)
    names = []
    for op in model.subgraphs[0].operators:
        code = model.operatorCodes[op.opcodeIndex]
        name = _OP_NAMES.get(max(code.builtinCode, code.deprecatedBuiltinCode), f"OP_{code.builtinCode}")
        activation = getattr(op.builtinOptions, "fusedActivationFunction", None)
        if activation:
            name += "+" + _ACTIVATION_NAMES.get(activation, str(activation))
        names.append(name)
    return names


def check_ops(tflite: bytes) -> list[str]:
    """The op list, or UnsupportedOpsError naming every op the device engine lacks."""
    ops = op_list(tflite)
    supported = engine_ops()
    bad = set()
    for entry in ops:
        name, _, activation = entry.partition("+")
        if name not in supported or (activation and activation not in ENGINE_FUSED_ACTIVATIONS):
            bad.add(entry)
    if bad:
        raise UnsupportedOpsError(
            f"the model uses {', '.join(sorted(bad))}, which the device engine does not run; it runs "
            f"{', '.join(sorted(supported))} with fused {'/'.join(sorted(ENGINE_FUSED_ACTIVATIONS - {'NONE'}))}. "
            f"Change the model's layers (e.g. no BatchNormalization after pooling, Flatten instead of Reshape(-1))")
    return ops


def input_quantization(tflite: bytes) -> dict:
    """The input tensor's type and (scale, zero point): how the device turns grey pixels into input values."""
    return _tensor_details(tflite, "inputs")


def output_details(tflite: bytes) -> dict:
    """The output tensor's type, shape and (scale, zero point)."""
    return _tensor_details(tflite, "outputs")


def _tensor_details(tflite: bytes, which: str) -> dict:
    try:
        graph = _model(tflite).subgraphs[0]
        tensor = graph.tensors[getattr(graph, which)[0]]
    except (TypeError, IndexError):  # a list the model lacks (None) or leaves empty
        raise ValueError(f"the model has no {which[:-1]} tensor") from None
    quant = tensor.quantization
    scale = float(quant.scale[0]) if quant is not None and quant.scale is not None and len(quant.scale) else None
    zero = int(quant.zeroPoint[0]) if quant is not None and quant.zeroPoint is not None and len(quant.zeroPoint) \
        else None
    type_names = {code: name for name, code in vars(schema.TensorType).items() if not name.startswith("_")}
    return {"type": type_names[tensor.type], "shape": [int(d) for d in tensor.shape], "scale": scale,
            "zero_point": zero}
