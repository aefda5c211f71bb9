"""Single-op (or few-op) .tflite models built with TensorFlow's converter from small Keras models, for comparing
our engine with the TFLM runtime kernel by kernel.

A case is a plain dict (its `spec`): the op, the dtype (int8 or float32) and the op's parameters. Models are
cached on disk under paths.cache_dir()/"kernel-models", keyed by a hash of the spec and of this file, so
TensorFlow is only imported when a model is missing."""

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from mpy_mnist import paths

_SOURCE_HASH = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]


def cache_path(spec: dict) -> Path:
    key = hashlib.sha256((json.dumps(spec, sort_keys=True) + _SOURCE_HASH).encode()).hexdigest()[:20]
    return paths.cache_dir() / "kernel-models" / f"{spec['op']}-{spec['dtype']}-{key}.tflite"


def model_bytes(spec: dict) -> bytes:
    """The .tflite model of a case, built on first use."""
    path = cache_path(spec)
    if not path.exists():
        data = build(spec)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)  # atomic: parallel runs never read half a model
    return path.read_bytes()


def input_shapes(spec: dict) -> list[tuple]:
    if spec["op"] == "add":
        return [tuple(spec["input"]), tuple(spec["input2"])]
    return [tuple(spec["input"])]


def input_range(spec: dict) -> tuple[float, float]:
    return tuple(spec.get("range", (-1.0, 1.0)))


def _activation(name, tf):
    """A Keras activation the converter fuses into the op before it."""
    if name == "relu_n1_to_1":
        return lambda v: tf.keras.ops.clip(v, -1.0, 1.0)
    return name


def _keras_body(spec: dict, tf, inputs):
    """The Keras layers of a case, applied to `inputs`."""
    layers = tf.keras.layers
    op, x = spec["op"], inputs[0]
    activation = _activation(spec.get("activation"), tf)
    if op == "fully_connected":
        if len(spec["input"]) > 2 and spec.get("flatten", True):
            x = layers.Flatten()(x)
        dense = layers.Dense(spec["units"], activation=activation, use_bias=spec.get("bias", True))
        return dense(x), dense
    if op == "conv":
        conv = layers.Conv2D(spec["filters"], spec["kernel"], strides=spec.get("strides", 1),
                             padding=spec.get("padding", "valid"), dilation_rate=spec.get("dilation", 1),
                             activation=activation, use_bias=spec.get("bias", True))
        return conv(x), conv
    if op == "depthwise_conv":
        conv = layers.DepthwiseConv2D(spec["kernel"], strides=spec.get("strides", 1),
                                      padding=spec.get("padding", "valid"), dilation_rate=spec.get("dilation", 1),
                                      depth_multiplier=spec.get("multiplier", 1), activation=activation,
                                      use_bias=spec.get("bias", True))
        return conv(x), conv
    if op in ("max_pool", "average_pool"):
        pool = layers.MaxPooling2D if op == "max_pool" else layers.AveragePooling2D
        x = pool(spec["pool"], strides=spec.get("strides"), padding=spec.get("padding", "valid"))(x)
        return (layers.Activation(activation)(x) if activation else x), None
    if op == "softmax":
        return layers.Softmax()(x), None
    if op == "logistic":
        return layers.Activation("sigmoid")(x), None
    if op == "add":
        x = x + inputs[1]  # broadcasts
        return (layers.Activation(activation)(x) if activation else x), None
    if op == "mean":
        return tf.keras.ops.mean(x, axis=spec["axis"], keepdims=spec.get("keep_dims", True)), None
    if op in ("relu", "relu6"):  # after a RESHAPE, which has no fused activation to absorb it
        x = layers.Reshape((-1,))(x)
        return layers.ReLU(max_value=6.0 if op == "relu6" else None)(x), None
    if op == "reshape":
        return layers.Reshape(tuple(spec["shape"]))(x), None
    if op == "requantize":  # a flattening RESHAPE, turned into an int8 -> int8 QUANTIZE after conversion
        return layers.Flatten()(x), None
    if op == "mnist_cnn":
        x = layers.Conv2D(8, 3, activation="relu", padding="same")(x)
        x = layers.MaxPooling2D(2)(x)
        x = layers.DepthwiseConv2D(3, depth_multiplier=2, activation="relu6")(x)
        x = layers.Conv2D(12, 3, strides=2, activation="relu")(x)
        x = layers.AveragePooling2D(2, padding="same")(x)
        x = layers.Flatten()(x)
        x = layers.Dense(10)(x)
        return layers.Softmax()(x), None
    raise ValueError(f"unknown op {op!r}")


def _randomise_weights(model, spec: dict) -> None:
    """Weights with a chosen spread (and per-channel spreads that differ, so per-channel scales matter)."""
    rng = np.random.default_rng(spec.get("seed", 0))
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        new = []
        for w in weights:
            spread = spec.get("weight_spread", 0.5)
            values = rng.normal(0.0, spread, w.shape)
            if w.ndim >= 2:  # vary the scale along the last axis (the output channels of Keras kernels)
                values *= rng.uniform(0.1, 1.0, w.shape[-1])
            new.append(values.astype(np.float32))
        layer.set_weights(new)


def build(spec: dict) -> bytes:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    shapes = input_shapes(spec)
    # Named, so that the representative data can be given by name: the converter's order of a two-input model's
    # tensors follows neither the Keras order nor the names, and a list given in Keras order fed ADD's
    # calibration the wrong shapes in some sessions.
    inputs = [tf.keras.Input(shape=s[1:], batch_size=s[0], dtype=tf.float32, name=f"input_{i}")
              for i, s in enumerate(shapes)]
    outputs, _ = _keras_body(spec, tf, inputs)
    model = tf.keras.Model(inputs=inputs, outputs=outputs)
    _randomise_weights(model, spec)

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if spec["dtype"] == "int8":
        ranges = [input_range(spec), tuple(spec.get("range2", input_range(spec)))]
        rng = np.random.default_rng(1000 + spec.get("seed", 0))

        def representative():
            for _ in range(64):
                yield {f"input_{i}": rng.uniform(*ranges[i], s).astype(np.float32) for i, s in enumerate(shapes)}

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io_type = tf.int8
        if spec.get("activations") == "int16":
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
            io_type = tf.int16
        if not spec.get("float_io", False):
            converter.inference_input_type = io_type
            converter.inference_output_type = io_type
        if not spec.get("per_channel", True):
            converter._experimental_disable_per_channel = True
        if "per_channel_dense" in spec:
            converter._experimental_disable_per_channel_quantization_for_dense_layers = not spec["per_channel_dense"]
    data = converter.convert()
    if "beta" in spec:  # Keras has no softmax beta: set it in the flatbuffer
        data = _edit_model(data, lambda schema, model: _set_softmax_beta(schema, model, spec["beta"]))
    if spec["op"] == "requantize":
        data = _edit_model(data, lambda schema, model: _reshape_to_requantize(schema, model, spec))
    if spec.get("output_like_input"):  # the same scale and zero point out as in (some kernels take a shortcut)
        data = _edit_model(data, _output_quantization_like_input)
    return data


def _output_quantization_like_input(schema, model) -> None:
    (operator,) = model.subgraphs[0].operators
    tensors = model.subgraphs[0].tensors
    source = tensors[operator.inputs[0]].quantization
    target = tensors[operator.outputs[0]].quantization
    target.scale, target.zeroPoint = list(source.scale), list(source.zeroPoint)


def _set_softmax_beta(schema, model, beta: float) -> None:
    for operator in model.subgraphs[0].operators:
        if isinstance(operator.builtinOptions, schema.SoftmaxOptionsT):
            operator.builtinOptions.beta = beta


def _reshape_to_requantize(schema, model, spec: dict) -> None:
    """The converter only makes int8 -> int8 QUANTIZE inside larger graphs; make one from a lone RESHAPE."""
    (operator,) = model.subgraphs[0].operators
    code = model.operatorCodes[operator.opcodeIndex]
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.QUANTIZE
    code.version = 2
    operator.builtinOptionsType = schema.BuiltinOptions.QuantizeOptions
    operator.builtinOptions = schema.QuantizeOptionsT()
    operator.inputs = operator.inputs[:1]
    tensors = model.subgraphs[0].tensors
    output = tensors[operator.outputs[0]]
    output.shape = output.shapeSignature = tensors[operator.inputs[0]].shape
    quantization = output.quantization
    quantization.scale = [spec["output_scale"]]
    quantization.zeroPoint = [spec["output_zero_point"]]


def output_quantization(data: bytes, operator_index: int) -> tuple[np.float32, int]:
    """(scale, zero point) of an operator's output tensor."""
    model = _read_model(data)
    subgraph = model.subgraphs[0]
    quantization = subgraph.tensors[subgraph.operators[operator_index].outputs[0]].quantization
    return np.float32(quantization.scale[0]), int(quantization.zeroPoint[0])


def _read_model(data: bytes):
    import importlib

    schema = importlib.import_module("tensorflow.lite.python.schema_py_generated")
    return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))


def _edit_model(data: bytes, edit) -> bytes:
    import importlib

    import flatbuffers

    schema = importlib.import_module("tensorflow.lite.python.schema_py_generated")
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    edit(schema, model)
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
