"""Run by test_kernels_unaligned.py in a process with the ASan/UBSan engine: each model given on the command line
is placed at offsets 0..3 from a 16-byte boundary (a frozen bytes object in flash has no alignment promise; the
Cortex-M7 faults on unaligned float loads), run on the same input, and must give the same output bytes with no
sanitizer report. Prints one line per model."""

import ctypes
import sys

import numpy as np

from mpy_mnist import engine


def run_at_offset(lib, model: bytes, offset: int, input_bytes: bytes) -> bytes:
    block = ctypes.create_string_buffer(len(model) + 32)
    address = (ctypes.addressof(block) + 15) // 16 * 16 + offset
    ctypes.memmove(address, model, len(model))
    it = ctypes.create_string_buffer(lib.tflh_interpreter_size())
    required = ctypes.c_size_t()
    work = ctypes.create_string_buffer(1 << 22)
    assert lib.tfl_arena_required(it, address, len(model), work, len(work), ctypes.byref(required)) == 0
    arena = ctypes.create_string_buffer(required.value + 16)
    assert lib.tfl_init(it, address, len(model), arena, len(arena)) == 0
    ctypes.memmove(lib.tflh_data(it, 0, 0), input_bytes, lib.tflh_bytes(it, 0, 0))
    assert lib.tfl_invoke(it) == 0
    return ctypes.string_at(lib.tflh_data(it, 1, 0), lib.tflh_bytes(it, 1, 0))


def main(paths: list[str]) -> None:
    lib = engine.load_library(sanitize=True)
    for path in paths:
        model = open(path, "rb").read()
        rng = np.random.default_rng(0)
        input_bytes = rng.uniform(-2, 2, 1 << 16).astype(np.float32).tobytes()  # also fine as int8 data
        outputs = {offset: run_at_offset(lib, model, offset, input_bytes) for offset in range(4)}
        assert len(set(outputs.values())) == 1, f"{path}: output depends on the model's alignment"
        print(f"{path}: same output at offsets 0-3")


if __name__ == "__main__":
    main(sys.argv[1:])
