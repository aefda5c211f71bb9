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
from mpy_mnist import baremetal, bench, engine, paths

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


@pytest.mark.slow
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s['op']}-{s['dtype']}")
def test_kernel_on_cortex_m7_matches_tflm(spec):
    require_tool("qemu-system-arm", "apt-get install qemu-system-arm")
    require_tool("arm-none-eabi-gcc", "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")
    runtime = test_kernels._tflm_runtime()
    model = kernel_models.model_bytes(spec)
    reference = runtime.Interpreter.from_bytes(model, arena_size=test_kernels.TFLM_ARENA_BYTES)
    rng = np.random.default_rng(7)
    inputs = [test_kernels.random_inputs(reference.get_input_details(i), spec, rng, 3)[2]
              for i in range(len(kernel_models.input_shapes(spec)))]
    for i, x in enumerate(inputs):
        reference.set_input(x, i)
    reference.invoke()
    want = reference.get_output(0).tobytes()

    program = os.path.relpath(HERE / "run_model", baremetal.HARNESS_DIR)  # build() names programs from there
    elf = baremetal.build(program, [bench._model_source(model), _inputs_source(inputs)],
                          engine.engine_sources(), cflags=baremetal.FIRMWARE_CFLAGS)
    output = baremetal.run(elf, count=False).output
    got = bytes(int(line.split()[1]) & 0xFF for line in output.splitlines() if line.startswith("out "))
    assert got == want, f"M7 output differs from TFLM: {np.frombuffer(got, np.uint8)[:16]} vs " \
                        f"{np.frombuffer(want, np.uint8)[:16]}"
