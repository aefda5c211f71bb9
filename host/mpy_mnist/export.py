"""Everything the board needs, from a .tflite and the MNIST test set, written into one directory:

  model.tflite     the model itself
  model.h          C array `tf_model[]` (16-byte aligned, 10 bytes a line, upper-case hex) and `tf_model_len`
  mnist.h          the test digits as 1-bpp C arrays `mnist_1..mnist_N`, `test_images[]`, `test_labels[]`
  mnist_model.py   MicroPython module, `MODEL = b"..."` (frozen into firmware, the model stays in flash)
  digits.bin       the digit set file (format: bitmaps.py)
  mnist_digits.py  MicroPython module, `LABELS = b"..."`, `BITMAPS = b"..."` (freezable)
File names come from paths.py, the digit format from bitmaps.py.
"""

from pathlib import Path

import numpy as np

from . import bitmaps, data, paths

MODEL_HEADER = "model.h"
DIGITS_HEADER = "mnist.h"
DEFAULT_COUNT = 100
HEX_PER_LINE = 10       # as in the article's model.h
BYTES_PER_PY_LINE = 32


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


def export(model_path=None, out_dir=None, count: int = DEFAULT_COUNT, data_dir=None, log=data._stderr) -> dict:
    """Write the model and `count` test digits in every form the board and C builds use; returns {file: path}."""
    model_path = Path(model_path) if model_path else paths.default_model_path()
    if not model_path.is_file():
        raise FileNotFoundError(f"{model_path}: no model; train one first (mpy-mnist train) or pass --model")
    tflite = model_path.read_bytes()
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
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, content in files.items():
        path = out_dir / name
        if path.resolve() != model_path.resolve():  # exporting next to the model: it is already there
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
        written[name] = path
    return written
