"""Feeds the engine broken variants of real models and checks each gives a clean outcome: the model loads and
runs, or the engine raises ValueError / NotImplementedError / MemoryError. Run as a script in a process where the
ASan/UBSan build of the engine is loaded (test_loader.py does that with engine.asan_environment()), so that any
out-of-range read or undefined behaviour aborts the process instead of passing silently.

    python tests/engine/malformed_models.py MODEL.tflite... [DIRECTORY...]   -> one summary line per argument

A directory's files are run as they are (the inputs that once crashed the engine: tests/engine/fuzz_crashes).
"""

import struct
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from mpy_mnist import engine

CLEAN_ERRORS = (ValueError, NotImplementedError, MemoryError)
ARENA = 1 << 20  # fixed, so a variant that claims a huge tensor meets MemoryError instead of a huge allocation


def outcome(model: bytes) -> str:
    try:
        interpreter = engine.Interpreter.from_bytes(model, arena_size=ARENA)
    except CLEAN_ERRORS as error:
        return type(error).__name__
    for index in range(interpreter.inputs_count):
        raw = interpreter.input(index).view(np.uint8)  # any bytes: float inputs may be NaN, kernels must cope
        raw[...] = (np.arange(raw.size) * 37 % 256).astype(np.uint8).reshape(raw.shape)
    try:
        interpreter.invoke()
    except CLEAN_ERRORS as error:
        return "invoke " + type(error).__name__
    return "ran"


def variants(model: bytes, seed: int):
    """Truncations, single bit flips, and 32-bit words overwritten with out-of-range offsets or huge counts."""
    rng = np.random.default_rng(seed)
    size = len(model)
    for length in sorted({*range(0, min(size, 96)), *range(0, size, max(1, size // 150)), size - 1}):
        yield model[:length]
    for position in rng.integers(0, size, 250):
        flipped = bytearray(model)
        flipped[position] ^= 1 << int(rng.integers(0, 8))
        yield bytes(flipped)
    structure_end = min(size, 4096)  # the tables and vectors a converter writes sit around the start and the end
    positions = [*range(0, structure_end - 3, 4), *range(max(0, size - 4096) & ~3, size - 3, 4)]
    for position in rng.choice(positions, min(len(positions), 400), replace=False):
        for value in (0xFFFFFFF0, 0x7FFFFFFF, size, 0x00010000):
            patched = bytearray(model)
            patched[position:position + 4] = struct.pack("<I", value)
            yield bytes(patched)


def main(paths: list[str]) -> int:
    for path in map(Path, paths):
        if path.is_dir():
            counts = Counter(outcome(file.read_bytes()) for file in sorted(path.iterdir()))
        else:
            counts = Counter(outcome(variant) for variant in variants(path.read_bytes(), seed=len(path.name)))
        print(f"{path.name}: {sum(counts.values())} variants: " +
              ", ".join(f"{name} {count}" for name, count in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
