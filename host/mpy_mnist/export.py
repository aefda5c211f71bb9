"""Everything the board needs, from a .tflite and the MNIST test set, written into one directory:

  model.tflite     the model itself
  model.h          C array `tf_model[]` (16-byte aligned, 10 bytes a line, upper-case hex) and `tf_model_len`
  mnist.h          the test digits as 1-bpp C arrays `mnist_1..mnist_N`, `test_images[]`, `test_labels[]`
  mnist_model.py   MicroPython module, `MODEL = b"..."` (frozen into firmware, the model stays in flash)
  digits.bin       the digit set file (format: bitmaps.py)
  mnist_digits.py  MicroPython module, `LABELS = b"..."`, `BITMAPS = b"..."` (freezable)
File names come from paths.py, the digit format from bitmaps.py. A model the board cannot run is refused before
anything is written (check_device_model), and every file is written whole or not at all.
"""

from pathlib import Path

import numpy as np

from . import bitmaps, data, paths
from .outputs import check_writable, write_atomically

MODEL_HEADER = "model.h"
DIGITS_HEADER = "mnist.h"
DEFAULT_COUNT = 100
HEX_PER_LINE = 10       # as in the article's model.h
BYTES_PER_PY_LINE = 32

# What the device app needs of a model (device_python/mnist/classifier.py checks the same on the board).
DEVICE_INPUT_VALUES = 784   # a 28x28 digit
DEVICE_OUTPUT_SCORES = 10
DEVICE_TENSOR_TYPES = (np.int8, np.float32)
# The model is read from /flash into the heap, and the engine's arena comes from the heap too; on the Cortex-M7 the
# arena also holds the DSP kernels' int16 copies of the conv and fully-connected weights, at most twice the model.
# The smallest heap the app runs in is the emulated board's 2 MiB, which also holds the 255 KB frame buffer, the
# app and the digits: half of it is what a model may take.
DEVICE_MODEL_BUDGET = 1024 * 1024


class ModelError(ValueError):
    """The device app cannot run this model; the message names the file and the reason."""


def check_device_model(tflite: bytes, name) -> None:
    """Load the model with the device engine on this machine (mpy_mnist.engine: the same C code, through ctypes)
    and check what the app needs: 784 int8/float32 input values, 10 output scores, ops the engine runs, and memory
    within DEVICE_MODEL_BUDGET. Raises ModelError with the engine's reason."""
    from . import engine

    try:
        interpreter = engine.Interpreter.from_bytes(tflite)
        tensors = {"input": interpreter.get_input_details(0), "output": interpreter.get_output_details(0)}
    except (ValueError, NotImplementedError, MemoryError) as error:
        raise ModelError(f"{name}: the board cannot run this model: {error}") from None
    for kind, size in (("input", DEVICE_INPUT_VALUES), ("output", DEVICE_OUTPUT_SCORES)):
        details = tensors[kind]
        if int(np.prod(details["shape"])) != size or details["dtype"] not in DEVICE_TENSOR_TYPES:
            shape = [int(d) for d in details["shape"]]
            raise ModelError(f"{name}: the board cannot use this model: its {kind} is {np.dtype(details['dtype'])} "
                             f"{shape}, the app needs {size} int8 or float32 values")
    needed = 3 * len(tflite) + interpreter.arena_used
    if needed > DEVICE_MODEL_BUDGET:
        raise ModelError(f"{name}: the board cannot hold this model: {len(tflite)} bytes and a "
                         f"{interpreter.arena_used}-byte arena need up to {needed} bytes of its heap (with the "
                         f"Cortex-M7 kernels' weight copies), more than the {DEVICE_MODEL_BUDGET} a model may take")


def default_out_dir() -> Path:
    return paths.work_dir() / "export"


def select_digits(labels: np.ndarray, count: int) -> np.ndarray:
    """Indices of `count` test digits: classes in turn 0, 1, ..., 9, 0, ..., each the next of its class in
    test-set order. Deterministic, and any 10 consecutive digits cover every class."""
    if not 0 < count <= len(labels):
        raise ValueError(f"--count {count}: choose 1 to {len(labels)} digits")
    by_class = [list(np.flatnonzero(labels == digit)) for digit in range(10)]
    chosen = []
    while len(chosen) < count:
        for digit in range(10):
            if by_class[digit] and len(chosen) < count:
                chosen.append(by_class[digit].pop(0))
    return np.array(chosen)


def _hex_lines(data: bytes, per_line: int) -> str:
    return ",\n".join("  " + ", ".join(f"0x{b:02X}" for b in data[i:i + per_line])
                      for i in range(0, len(data), per_line))


def model_header(tflite: bytes) -> str:
    return (
        "// The MNIST model as a C array, written by `mpy-mnist export`. 16-byte aligned: TFLM reads it in place.\n"
        "#pragma once\n\n"
        "const unsigned char tf_model[] __attribute__((aligned(16))) = {\n"
        f"{_hex_lines(tflite, HEX_PER_LINE)}\n}};\n"
        f"unsigned int tf_model_len = {len(tflite)};\n"
    )


def digits_header(labels: bytes, packed: bytes, indices) -> str:
    """mnist.h: one 112-byte 1-bpp array per digit (framebuf.MONO_HLSB), the table of them, and the labels."""
    parts = ["// MNIST test digits, 1 bit per pixel (28x28, rows of 4 bytes, MSB = leftmost pixel, as\n"
             "// framebuf.MONO_HLSB), written by `mpy-mnist export`.\n#pragma once\n\n",
             f"#define NUM_TEST_IMAGES {len(labels)}\n\n"]
    for n, (label, index) in enumerate(zip(labels, indices), start=1):
        digit = packed[(n - 1) * bitmaps.DIGIT_BYTES:n * bitmaps.DIGIT_BYTES]
        parts.append(f"// test digit #{index}, label {label}\n"
                     f"const unsigned char mnist_{n}[] = {{\n{_hex_lines(digit, bitmaps.ROW_BYTES * 4)}\n}};\n")
    names = ", ".join(f"mnist_{n}" for n in range(1, len(labels) + 1))
    parts.append(f"\nconst unsigned char *test_images[] = {{{names}}};\n")
    parts.append(f"const unsigned char test_labels[] = {{{', '.join(str(label) for label in labels)}}};\n")
    return "".join(parts)


def _py_bytes(name: str, data: bytes) -> str:
    """`name = (b"..." b"...")`: adjacent literals, joined by the compiler, so no line is long."""
    lines = ["    b\"" + "".join("\\x%02x" % b for b in data[i:i + BYTES_PER_PY_LINE]) + "\"\n"
             for i in range(0, len(data), BYTES_PER_PY_LINE)]
    return name + " = (\n" + ("".join(lines) or '    b""\n') + ")\n"


def model_module(tflite: bytes) -> str:
    # comments, not a docstring: the module holds assignments only, and readers may rely on that
    return ("# The MNIST model (.tflite bytes), written by `mpy-mnist export`. "
            "Frozen into firmware it stays in flash.\n" + _py_bytes("MODEL", tflite))


def digits_module(labels: bytes, packed: bytes) -> str:
    return ("# MNIST test digits, written by `mpy-mnist export`: LABELS[i] is the digit drawn by\n"
            f"# BITMAPS[{bitmaps.DIGIT_BYTES}*i:{bitmaps.DIGIT_BYTES}*(i+1)] "
            "(28x28, 1 bit a pixel, framebuf.MONO_HLSB).\n"
            + _py_bytes("LABELS", labels) + _py_bytes("BITMAPS", packed))


def export(model_path=None, out_dir=None, count: int = DEFAULT_COUNT, data_dir=None, force: bool = False,
           log=data._stderr) -> dict:
    """Write the model and `count` test digits in every form the board and C builds use; returns {file: path}.
    A model the board cannot run raises ModelError before anything is written, unless force."""
    model_path = Path(model_path) if model_path else paths.default_model_path()
    if not model_path.is_file():
        raise FileNotFoundError(f"{model_path}: no model; train one first (mpy-mnist train) or pass --model")
    tflite = model_path.read_bytes()
    if not force:
        check_device_model(tflite, model_path)
    out_dir = Path(out_dir) if out_dir else default_out_dir()
    images, labels = data.load_test_set(data_dir, log=log)
    indices = select_digits(labels, count)
    chosen_labels = bytes(int(label) for label in labels[indices])
    packed = bitmaps.pack(images[indices])

    files = {
        paths.MODEL_FILE: tflite,
        MODEL_HEADER: model_header(tflite),
        DIGITS_HEADER: digits_header(chosen_labels, packed, indices),
        paths.MODEL_MODULE: model_module(tflite),
        paths.DIGITS_FILE: bitmaps.digits_file_bytes(chosen_labels, packed),
        paths.DIGITS_MODULE: digits_module(chosen_labels, packed),
    }
    written = {name: out_dir / name for name in files}
    # exporting next to the model: it is already there
    to_write = {path: files[name] for name, path in written.items() if path.resolve() != model_path.resolve()}
    check_writable(*to_write)
    for path, content in to_write.items():
        write_atomically(path, content)
    return written
