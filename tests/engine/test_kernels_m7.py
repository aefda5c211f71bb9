"""Kernel models on the emulated Cortex-M7 (QEMU mps2-an500, bare metal, compiled as the firmware compiles the
engine: hard float, -ffp-contract=off), byte for byte against the TFLM runtime on the host: the float kernels'
order of operations and the device's exp (quant.c) hold on the real target's arithmetic, not only on x86."""

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

import kernel_models
import test_kernels
from needs import require_tool
from mpy_mnist import baremetal, bench, engine, packing, paths

HERE = paths.REPO_ROOT / "tests" / "engine" / "m7"

SPECS = [
    dict(op="conv", dtype="float32", input=[1, 9, 9, 3], filters=4, kernel=3, padding="same", activation="relu"),
    dict(op="depthwise_conv", dtype="float32", input=[1, 10, 9, 3], kernel=3, strides=2, multiplier=2),
    dict(op="fully_connected", dtype="float32", input=[1, 4, 4, 2], units=7, activation="relu", range=[0, 4]),
    dict(op="average_pool", dtype="float32", input=[1, 9, 7, 2], pool=3, strides=2, padding="same", range=[-2, 5]),
    dict(op="softmax", dtype="float32", input=[2, 3, 7], range=[-1, 1]),
    dict(op="softmax", dtype="float32", input=[1, 16], range=[-3, 3], beta=2.5),
    dict(op="logistic", dtype="float32", input=[1, 100], range=[-30, 30]),
    dict(op="mean", dtype="float32", input=[1, 7, 7, 3], axis=[1, 2], keep_dims=False, range=[0, 6]),
    dict(op="add", dtype="float32", input=[1, 4, 5, 3], input2=[1, 1, 1, 3], range=[0, 2], range2=[-0.5, 0.5],
         activation="relu"),
    dict(op="conv", dtype="int8", input=[1, 6, 6, 2], filters=3, kernel=3, float_io=True, range=[-2, 2]),
    # the DSP conv's assembly loop at its deepest (1 + 2 x 128 k-pairs), the C loop just past it, and a first
    # layer's strips with SAME padding, a row stride, an odd channel count and an odd last column
    dict(op="conv", dtype="int8", input=[1, 4, 4, 512], filters=6, kernel=1, activation="relu", range=[-1, 1]),
    dict(op="conv", dtype="int8", input=[1, 4, 4, 516], filters=6, kernel=1, activation="relu", range=[-1, 1]),
    dict(op="conv", dtype="int8", input=[1, 11, 9, 1], filters=5, kernel=5, strides=[2, 1], padding="same",
         activation="relu", range=[0, 1]),
    dict(op="mnist_cnn", dtype="float32", input=[1, 28, 28, 1], range=[0, 1]),
    dict(op="mnist_cnn", dtype="int8", input=[1, 28, 28, 1], range=[0, 1]),
]


def _inputs_source(inputs: list[np.ndarray]) -> Path:
    digest = hashlib.sha256(b"".join(x.tobytes() for x in inputs)).hexdigest()[:16]
    path = paths.cache_dir() / "baremetal" / "models" / f"inputs-{digest}.c"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = [f"static const unsigned char input{i}[] __attribute__((aligned(16))) = {{"
                  + ",".join(str(b) for b in x.tobytes()) + "};" for i, x in enumerate(inputs)]
        path.write_text("\n".join(arrays) + "\nconst unsigned char *const input_data[] = {"
                        + ",".join(f"input{i}" for i in range(len(inputs)))
                        + f"}};\nconst unsigned int input_count = {len(inputs)};\n")
    return path


def _run_on_m7(model: bytes, inputs: list[np.ndarray], defines=(), count=False):
    program = os.path.relpath(HERE / "run_model", baremetal.HARNESS_DIR)  # build() names programs from there
    elf = baremetal.build(program, [bench._model_source(model), _inputs_source(inputs)],
                          engine.engine_sources(), defines=defines, cflags=baremetal.FIRMWARE_CFLAGS)
    run = baremetal.run(elf, count=count)
    got = bytes(int(line.split()[1]) & 0xFF for line in run.output.splitlines() if line.startswith("out "))
    functions = {name for window in run.windows for region in window.functions.values() for name in region}
    return got, functions


def _tflm_output(model: bytes, inputs: list[np.ndarray]) -> bytes:
    reference = test_kernels._tflm_runtime().Interpreter.from_bytes(model, arena_size=test_kernels.TFLM_ARENA_BYTES)
    for i, x in enumerate(inputs):
        reference.set_input(x, i)
    reference.invoke()
    return reference.get_output(0).tobytes()


def _require_m7_tools():
    require_tool("qemu-system-arm", "apt-get install qemu-system-arm")
    require_tool("arm-none-eabi-gcc", "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")


@pytest.mark.slow
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s['op']}-{s['dtype']}")
def test_kernel_on_cortex_m7_matches_tflm(spec):
    _require_m7_tools()
    model = kernel_models.model_bytes(spec)
    reference = test_kernels._tflm_runtime().Interpreter.from_bytes(model, arena_size=test_kernels.TFLM_ARENA_BYTES)
    rng = np.random.default_rng(7)
    inputs = [test_kernels.random_inputs(reference.get_input_details(i), spec, rng, 3)[2]
              for i in range(len(kernel_models.input_shapes(spec)))]
    got, _ = _run_on_m7(model, inputs)
    want = _tflm_output(model, inputs)
    assert got == want, f"M7 output differs from TFLM: {np.frombuffer(got, np.uint8)[:16]} vs " \
                        f"{np.frombuffer(want, np.uint8)[:16]}"


# FULLY_CONNECTED with the converter's packed weights (packing.py): the default model (576 deep: nine turns of the
# loop's eight groups of 8 inputs, the row widened 16 at a time), an odd unit count with a depth of a turn, five
# groups and a partial one, and three rows ending in a partial group (rows 1 and 2 at unaligned addresses).
PACKED_MODELS = {
    "default": lambda: (paths.DEFAULT_MODEL_DIR / paths.MODEL_FILE).read_bytes(),
    "fc-7x100": lambda: kernel_models.model_bytes(
        dict(op="fully_connected", dtype="int8", input=[1, 5, 5, 4], units=7, range=[-1, 1])),
    "fc-3rows-10x50": lambda: kernel_models.model_bytes(
        dict(op="fully_connected", dtype="int8", input=[3, 50], units=10, activation="relu", flatten=False)),
}


def _tamper_value(model: bytes) -> bytes:
    """The first packed pair's weights all 127: wrong answers if the engine trusted them."""
    record = packing.packed_payloads(model)[0]
    data = bytearray(model)
    weights = slice(record["start"] + 8, record["start"] + record["length"] // 2)
    data[weights] = np.full((weights.stop - weights.start) // 2, 127, "<i2").tobytes()
    return bytes(data)


def _tamper_record(model: bytes) -> bytes:
    """The first record's payload length past the buffer's end."""
    record = packing.packed_payloads(model)[0]
    length_field = model.index(packing.MAGIC) + 8 + 4 * 4  # magic, count, then operator, tensor, layout, offset
    return model[:length_field] + (record["length"] + 16).to_bytes(4, "little") + model[length_field + 4:]


# (how the model is changed, MODEL_SHIFT, whether the packed kernel runs)
PACKED_VARIANTS = {
    "packed": (lambda m: m, 0, True),
    "shifted-4": (lambda m: m, 4, True),         # word-aligned still: LDM is fine
    "misaligned": (lambda m: m, 2, False),       # the packed data at an address LDM faults on: in place
    "tampered-values": (_tamper_value, 0, False),
    "tampered-record": (_tamper_record, 0, False),
}


@pytest.mark.slow
@pytest.mark.parametrize("variant", PACKED_VARIANTS)
@pytest.mark.parametrize("name", PACKED_MODELS)
def test_packed_fully_connected_on_cortex_m7_matches_tflm(name, variant):
    """The packed kernel where the packed weights check out at their real address; the in-place kernel where they
    are misaligned or are not the model's weights; TFLM's output bytes either way."""
    _require_m7_tools()
    change, shift, packed_runs = PACKED_VARIANTS[variant]
    model = change(packing.pack(PACKED_MODELS[name]()))
    reference = test_kernels._tflm_runtime().Interpreter.from_bytes(model, arena_size=test_kernels.TFLM_ARENA_BYTES)
    rng = np.random.default_rng(11)
    inputs = [test_kernels.random_inputs(reference.get_input_details(0), {}, rng, 3)[2]]
    got, functions = _run_on_m7(model, inputs, defines=(f"MODEL_SHIFT={shift}",) if shift else (), count=True)
    assert got == _tflm_output(model, inputs)
    assert ("tfl_arm_fc_pair" in functions) == packed_runs, sorted(functions)
