"""Every kernel against the TFLM runtime, byte for byte: single-op models built by TensorFlow's converter
(kernel_models.py) over shapes, strides, padding, dilation, depth multipliers, activations and quantisation
parameters, each run on many random inputs by both interpreters."""

import numpy as np
import pytest

import kernel_models
from mpy_mnist import engine



def _tflm_runtime():
    try:
        from tflite_micro import runtime
    except ImportError:
        pytest.fail("tflite_micro not importable: pip install tflite-micro (scripts/setup.sh does)", pytrace=False)
    return runtime


def case(op, dtypes=("int8", "float32"), **params):
    """One spec per dtype, with a readable test id."""
    label = "-".join(f"{k}={v}" for k, v in params.items()).replace(" ", "")
    return [pytest.param(dict(op=op, dtype=dtype, **params), id=f"{op}-{dtype}-{label}") for dtype in dtypes]


INT8 = ("int8",)
CASES = [
    *case("fully_connected", input=[1, 12], units=5),
    *case("fully_connected", input=[1, 4, 4, 2], units=7, activation="relu", range=[0, 4]),
    *case("fully_connected", input=[1, 9], units=3, activation="relu6", bias=False, range=[-5, 3]),
    *case("fully_connected", input=[3, 10], units=4, activation="relu_n1_to_1"),
    *case("fully_connected", INT8, input=[1, 16], units=6, per_channel_dense=True, range=[-2, 6]),
    *case("fully_connected", INT8, input=[2, 40], units=9, per_channel_dense=False, range=[-1, 3]),
    *case("fully_connected", input=[1, 5, 8], units=6, flatten=False, activation="relu"),
    # 16384 requantisations per input, where single rounding would disagree with TFLM's double rounding
    *case("fully_connected", INT8, input=[256, 1], units=64, per_channel_dense=False),
    *case("conv", input=[1, 8, 8, 3], filters=4, kernel=3, padding="same", activation="relu_n1_to_1", range=[-2, 2]),
    *case("depthwise_conv", input=[1, 7, 7, 3], kernel=3, activation="relu_n1_to_1", range=[-2, 2]),
    *case("conv", input=[1, 9, 9, 3], filters=4, kernel=3, padding="same", activation="relu"),
    *case("conv", input=[1, 10, 11, 2], filters=5, kernel=3, strides=2, padding="valid"),
    *case("conv", input=[1, 11, 9, 3], filters=3, kernel=5, strides=2, padding="same", range=[0, 6]),
    *case("conv", input=[1, 12, 12, 2], filters=4, kernel=3, dilation=2, padding="same", activation="relu6"),
    *case("conv", input=[1, 7, 7, 8], filters=6, kernel=1, bias=False),
    *case("conv", input=[2, 8, 7, 3], filters=4, kernel=[2, 3], strides=[2, 1], padding="same"),
    *case("conv", input=[1, 14, 14, 1], filters=8, kernel=3, padding="same", activation="relu", range=[0, 1]),
    *case("conv", INT8, input=[1, 9, 9, 3], filters=4, kernel=3, padding="same", per_channel=False, range=[-3, 1]),
    # the int8 conv's window as whole vectors (conv.c, padded_depth): a first layer's 25-value window padded to 32,
    # where the dot products of all but the last filters run over the padding (filters 0-3, 4, 5) and the last
    # one's stops at the window (6); and a 144-value window, a whole number of vectors, with SAME padding's partial
    # windows and a remainder filter after two blocks of four
    *case("conv", INT8, input=[1, 12, 12, 1], filters=7, kernel=5, padding="valid", activation="relu"),
    *case("conv", INT8, input=[1, 6, 5, 16], filters=9, kernel=3, padding="same", range=[-1, 3]),
    *case("depthwise_conv", input=[1, 9, 9, 4], kernel=3, padding="same", activation="relu"),
    *case("depthwise_conv", input=[1, 10, 9, 3], kernel=3, strides=2, multiplier=2),
    *case("depthwise_conv", input=[1, 12, 12, 2], kernel=5, padding="same", dilation=2, multiplier=3, range=[0, 2]),
    *case("depthwise_conv", input=[1, 8, 8, 5], kernel=[3, 2], strides=[1, 2], padding="same", activation="relu6"),
    *case("depthwise_conv", INT8, input=[1, 9, 9, 4], kernel=3, padding="same", per_channel=False),
    *case("max_pool", input=[1, 8, 8, 3], pool=2),
    *case("max_pool", input=[1, 9, 9, 2], pool=3, strides=2, padding="same", range=[-1, 3]),
    *case("average_pool", input=[1, 8, 8, 3], pool=2),
    *case("average_pool", input=[1, 9, 7, 2], pool=3, strides=2, padding="same", range=[-2, 5]),
    *case("average_pool", input=[1, 6, 6, 4], pool=[2, 3], strides=1, padding="same", activation="relu"),
    *case("softmax", input=[1, 10], range=[-4, 4]),
    *case("softmax", input=[1, 10], range=[-20, 20]),
    *case("softmax", input=[2, 3, 7], range=[-1, 1]),
    *case("softmax", input=[1, 16], range=[-3, 3], beta=2.5),
    *case("softmax", input=[1, 12], range=[-6, 6], beta=0.3),
    *case("logistic", input=[1, 64], range=[-8, 8]),
    *case("logistic", input=[2, 5, 3], range=[-1, 2]),
    *case("logistic", input=[1, 100], range=[-30, 30]),
    *case("softmax", input=[1, 10], range=[-0.05, 0.05]),
    *case("add", input=[1, 4, 4, 3], input2=[1, 4, 4, 3], range2=[-3, 3]),
    *case("add", input=[1, 4, 5, 3], input2=[1, 1, 1, 3], range=[0, 2], range2=[-0.5, 0.5], activation="relu"),
    *case("add", input=[1, 3, 4, 2], input2=[1, 3, 1, 2], range2=[-10, 4]),
    *case("mean", input=[1, 5, 6, 4], axis=[1, 2], keep_dims=True),
    *case("mean", input=[1, 7, 7, 3], axis=[1, 2], keep_dims=False, range=[0, 6]),
    *case("mean", input=[2, 4, 3, 5], axis=[3], keep_dims=True, range=[-4, 1]),
    *case("mean", input=[1, 6, 4, 3], axis=[1], keep_dims=False),
    *case("mean", INT8, input=[1, 5, 5, 6], axis=[1, 2], keep_dims=True, range=[-2, 3], output_like_input=True),
    *case("mean", INT8, input=[1, 4, 6, 3], axis=[2], keep_dims=False, output_like_input=True),
    *case("reshape", input=[1, 4, 6], shape=[24]),
    *case("relu", input=[1, 4, 6], range=[-3, 5]),
    *case("relu6", input=[1, 5, 6], range=[-2, 9]),
    *case("requantize", INT8, input=[1, 4, 6], output_scale=0.0123, output_zero_point=-7),
    *case("requantize", INT8, input=[1, 5, 5], range=[-0.3, 0.2], output_scale=0.05, output_zero_point=100),
    *case("conv", INT8, input=[1, 6, 6, 2], filters=3, kernel=3, float_io=True, range=[-2, 2]),
    *case("mnist_cnn", input=[1, 28, 28, 1], range=[0, 1]),
]

INPUTS_PER_CASE = 25
TFLM_ARENA_BYTES = 1 << 20


def random_inputs(details: dict, spec: dict, rng: np.random.Generator, count: int) -> list[np.ndarray]:
    """Random inputs over the whole int8 range (and its two ends), or floats around the case's range."""
    shape, dtype = details["shape"], details["dtype"]
    if dtype == np.int8:
        inputs = [np.full(shape, -128, np.int8), np.full(shape, 127, np.int8)]
        inputs += [rng.integers(-128, 128, shape).astype(np.int8) for _ in range(count - 2)]
        return inputs
    low, high = kernel_models.input_range(spec)
    margin = 0.25 * (high - low)
    return [rng.uniform(low - margin, high + margin, shape).astype(np.float32) for _ in range(count)]


def compare(spec: dict, count: int = INPUTS_PER_CASE, seed: int = 0) -> None:
    runtime = _tflm_runtime()
    model = kernel_models.model_bytes(spec)
    ours = engine.Interpreter.from_bytes(model)
    reference = runtime.Interpreter.from_bytes(model, arena_size=TFLM_ARENA_BYTES)
    n_inputs = len(kernel_models.input_shapes(spec))
    rng = np.random.default_rng(seed)
    inputs = [random_inputs(reference.get_input_details(i), spec, rng, count) for i in range(n_inputs)]
    for trial in range(count):
        for i in range(n_inputs):
            ours.set_input(inputs[i][trial], i)
            reference.set_input(inputs[i][trial], i)
        ours.invoke()
        reference.invoke()
        got, want = ours.get_output(0), reference.get_output(0)
        if got.tobytes() != want.tobytes():
            where = np.argwhere(got != want) if got.shape == want.shape else "shape"
            pytest.fail(f"{ours.ops} differs from TFLM on input {trial}: {len(where)} elements, first at "
                        f"{where[:3].tolist()}: ours {got[got != want][:5]} vs TFLM {want[got != want][:5]}")


@pytest.mark.parametrize("spec", CASES)
def test_kernel_matches_tflm(spec):
    compare(spec)


@pytest.mark.parametrize("spec", [
    dict(op="conv", dtype="int8", activations="int16", input=[1, 6, 6, 2], filters=3, kernel=3),
    dict(op="fully_connected", dtype="int8", activations="int16", input=[1, 8], units=4),
])
def test_unsupported_types_are_named(spec):
    with pytest.raises(NotImplementedError, match="supported: int8, float32"):
        engine.Interpreter.from_bytes(kernel_models.model_bytes(spec))


def random_sweep(count: int, seed: int = 2026) -> list:
    """Random shapes, strides, paddings, dilations, ranges and options for every kernel with parameters."""
    rng = np.random.default_rng(seed)
    ops = ["conv", "depthwise_conv", "max_pool", "average_pool", "fully_connected", "add", "mean", "softmax"]
    specs = []
    for i in range(count):
        op = ops[i % len(ops)]
        h, w, c = (int(v) for v in rng.integers([3, 3, 1], [14, 14, 9]))
        low = float(rng.uniform(-4, 1))
        spec = dict(op=op, dtype=["int8", "float32"][int(rng.integers(2))], input=[1, h, w, c], seed=i,
                    range=[round(low, 3), round(low + float(rng.uniform(0.5, 8)), 3)])
        padding = str(rng.choice(["same", "valid"]))
        kernel = [int(rng.integers(1, min(h, 5) + 1)), int(rng.integers(1, min(w, 5) + 1))]
        strides = [int(v) for v in rng.integers(1, 4, 2)]
        activation = [None, "relu", "relu6"][int(rng.integers(3))]
        if op in ("conv", "depthwise_conv"):
            dilated = padding == "same" and bool(rng.integers(2))
            spec.update(kernel=kernel, padding=padding, activation=activation, bias=bool(rng.integers(2)),
                        weight_spread=round(float(rng.uniform(0.05, 1.5)), 3))
            # TensorFlow accepts dilation or strides above 1, not both
            spec.update(dilation=[int(v) for v in rng.integers(1, 3, 2)]) if dilated else spec.update(strides=strides)
            if op == "conv":
                spec["filters"] = int(rng.integers(1, 9))
            else:
                spec["multiplier"] = int(rng.integers(1, 4))
            if spec["dtype"] == "int8":
                spec["per_channel"] = bool(rng.integers(4))
        elif op == "fully_connected":
            spec.update(units=int(rng.integers(1, 20)), activation=activation, bias=bool(rng.integers(2)))
        elif op == "add":  # the second input broadcasts along height, width, both or neither
            shape2 = [1] + [d if rng.integers(2) else 1 for d in (h, w)] + [c]
            low2 = float(rng.uniform(-6, 1))
            spec.update(input2=shape2, range2=[round(low2, 3), round(low2 + float(rng.uniform(0.2, 10)), 3)],
                        activation=activation)
        elif op == "mean":
            axes = sorted(int(a) for a in rng.choice([1, 2, 3], int(rng.integers(1, 3)), replace=False))
            spec.update(axis=axes, keep_dims=bool(rng.integers(2)))
        elif op == "softmax":
            spec.update(beta=round(float(rng.uniform(0.2, 3)), 3))
        else:
            spec.update(pool=kernel, strides=strides, padding=padding)
        specs.append(pytest.param(spec, id=f"sweep{i}-{op}-{spec['dtype']}"))
    return specs


@pytest.mark.slow
@pytest.mark.parametrize("spec", random_sweep(64))
def test_kernel_sweep_matches_tflm(spec):
    compare(spec, count=10)


def test_quantize_rounds_like_tflm_at_halfway_points():
    """Floats a few ulps around (k + 1/2) * scale, where dividing in float and in double round differently."""
    spec = dict(op="reshape", dtype="int8", input=[1, 4, 32], shape=[128], float_io=True, range=[-1, 1])
    model = kernel_models.model_bytes(spec)
    ours = engine.Interpreter.from_bytes(model)
    reference = _tflm_runtime().Interpreter.from_bytes(model, arena_size=TFLM_ARENA_BYTES)
    assert ours.ops == ["QUANTIZE", "RESHAPE", "DEQUANTIZE"]
    scale, _ = kernel_models.output_quantization(model, 0)  # of the QUANTIZE
    halfway = np.array([(k + 0.5) * scale for k in range(-64, 64)], np.float32)
    for ulps in (-2, -1, 0, 1, 2):
        x = halfway.copy()
        for _ in range(abs(ulps)):
            x = np.nextafter(x, np.float32(np.inf if ulps > 0 else -np.inf)).astype(np.float32)
        x = x.reshape(1, 4, 32)
        ours.set_input(x, 0)
        reference.set_input(x, 0)
        ours.invoke()
        reference.invoke()
        assert ours.get_output(0).tobytes() == reference.get_output(0).tobytes(), f"{ulps} ulps from halfway"
