"""Accuracy of a model under Keras, LiteRT and the TFLite Micro runtime, on grey and on 1-bit test digits, and on
the same digits re-drawn with the device's pen (drawn.py).

Also: the op list, the file size, and the tensor arena TFLM needs (the total of its allocation report, checked to be
the smallest arena that runs the model). Writes a JSON report, a confusion matrix and a grid of misclassified digits
(both for the TFLM runtime on 1-bit digits, which is what the device sees).
"""

import json
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np

from . import bitmaps, convert, data, drawn, models
from .export import DEVICE_INPUT_VALUES, DEVICE_OUTPUT_SCORES
from .outputs import atomic_path, check_writable, write_atomically

REPORT_FILE = "report.json"
CONFUSION_FILE = "confusion.png"
MISCLASSIFIED_FILE = "misclassified.png"
ARENA_SEARCH_MAX = 1 << 20
ARENA_STEP = 16  # TFLM aligns its arena allocations to 16 bytes


def model_input(tflite: bytes, x: np.ndarray) -> np.ndarray:
    """Float model inputs (N, 28, 28, 1) in [0, 1] -> what the .tflite's input tensor takes (int8 or float32)."""
    quant = convert.input_quantization(tflite)
    if quant["type"] == "FLOAT32":
        return x.astype(np.float32)
    if quant["type"] != "INT8":
        raise ValueError(f"model input type {quant['type']}: expected INT8 or FLOAT32")
    q = np.rint(x / quant["scale"]) + quant["zero_point"]
    return np.clip(q, -128, 127).astype(np.int8)


def predict_keras(model, x: np.ndarray) -> np.ndarray:
    return np.argmax(model.predict(x, batch_size=500, verbose=0), axis=1)


def predict_litert(tflite: bytes, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_content=tflite)
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]
    predictions = np.empty(len(x), dtype=np.int64)
    for i, image in enumerate(model_input(tflite, x)):
        interpreter.set_tensor(input_index, image[np.newaxis])
        interpreter.invoke()
        predictions[i] = np.argmax(interpreter.get_tensor(output_index))
    return predictions


def _tflm(tflite: bytes, arena_size: int):
    from tflite_micro import runtime
    return runtime.Interpreter.from_bytes(tflite, arena_size=arena_size)


def predict_tflm(tflite: bytes, x: np.ndarray, arena_size: int = 256 * 1024) -> np.ndarray:
    interpreter = _tflm(tflite, arena_size)
    predictions = np.empty(len(x), dtype=np.int64)
    for i, image in enumerate(model_input(tflite, x)):
        interpreter.set_input(image[np.newaxis], 0)
        interpreter.invoke()
        predictions[i] = np.argmax(interpreter.get_output(0))
    return predictions


def _tflm_runs_in(tflite: bytes, arena_size: int):
    """The TFLM interpreter after one invoke on a blank digit in an arena of arena_size bytes, or None if it
    does not fit. (Arenas below ~1 KB crash the runtime rather than fail, so callers never probe that low.)"""
    try:
        interpreter = _tflm(tflite, arena_size)
        shape = convert.input_quantization(tflite)["shape"]
        interpreter.set_input(model_input(tflite, np.zeros(shape, np.float32)), 0)
        interpreter.invoke()
    except RuntimeError:  # "TFLM failed to allocate tensors"
        return None
    return interpreter


def _c_stderr_of(function) -> str:
    """What a C++ call writes to file descriptor 2 (the TFLM runtime prints its reports there)."""
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            function()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        return capture.read().decode(errors="replace")


def tflm_arena_size(tflite: bytes) -> int:
    """The tensor arena (bytes) the TFLM runtime needs: the total of its allocation report, checked by running the
    model in exactly that arena and failing to in 16 bytes less."""
    interpreter = _tflm_runs_in(tflite, ARENA_SEARCH_MAX)
    if interpreter is None:
        raise RuntimeError(f"TFLM cannot run the model even with a {ARENA_SEARCH_MAX}-byte arena")
    report = _c_stderr_of(interpreter.print_allocations)
    match = re.search(r"Arena allocation total (\d+) bytes", report)
    if match is None:
        raise RuntimeError(f"no arena total in the TFLM allocation report: {report[:300]!r}")
    total = int(match.group(1))
    too_small = []  # the runtime prints its allocation failures; they are expected here, so keep them quiet
    _c_stderr_of(lambda: too_small.append(_tflm_runs_in(tflite, total - ARENA_STEP)))
    if _tflm_runs_in(tflite, total) is None or too_small[0] is not None:
        raise RuntimeError(f"TFLM reported a {total}-byte arena, but that is not the smallest that runs the model")
    return total


def load_keras(path):
    import keras
    return keras.models.load_model(path, compile=False)


def keras_path_for(model_path: Path) -> Path:
    """Where train saves the Keras model beside its .tflite."""
    return Path(model_path).with_suffix(".keras")


def evaluate(model_path, keras_model=None, limit: int | None = None, data_dir=None, out_dir=None,
             log=data._stderr) -> dict:
    """Evaluate the .tflite at model_path (and the Keras model, a path or object, if given) on the MNIST test set.

    limit: the first N test digits only. Writes report.json, confusion.png and misclassified.png into out_dir
    (default: the model's directory) and returns the report.
    """
    model_path = Path(model_path)
    tflite = model_path.read_bytes()
    check_digit_model(tflite, model_path)
    out_dir = Path(out_dir) if out_dir else model_path.parent
    outputs = {name: out_dir / name for name in (REPORT_FILE, CONFUSION_FILE, MISCLASSIFIED_FILE)}
    check_writable(*outputs.values())
    images, labels = data.load_test_set(data_dir, log=log)
    if limit is not None:
        if not 1 <= limit <= len(labels):
            raise ValueError(f"--limit {limit}: choose 1 to {len(labels)} test digits")
        images, labels = images[:limit], labels[:limit]
    inputs = {"grey": models.to_model_input(images)}
    inputs["binary"] = models.binarize_input(inputs["grey"])
    log(f"evaluate: re-drawing {len(images)} digits with the device's pen")
    inputs["drawn"] = models.to_model_input(drawn.drawn_digits(images))

    ops = convert.op_list(tflite)
    report = {
        "model": str(model_path), "size_bytes": len(tflite), "ops": ops,
        "ops_supported_by_engine": _engine_runs(tflite), "input": convert.input_quantization(tflite),
        "test_digits": int(len(labels)), "accuracy": {}, "seconds": {},
    }
    log("evaluate: measuring the TFLM tensor arena")
    report["tflm_arena_bytes"] = arena = tflm_arena_size(tflite)

    runtimes = {"litert": lambda x: predict_litert(tflite, x), "tflm": lambda x: predict_tflm(tflite, x, arena)}
    if keras_model is not None:
        if not hasattr(keras_model, "predict"):
            keras_model = load_keras(keras_model)
        runtimes = {"keras": lambda x: predict_keras(keras_model, x), **runtimes}
    predictions = {}
    for runtime, predict in runtimes.items():
        for kind, x in inputs.items():
            log(f"evaluate: {runtime} on {len(x)} {kind} digits")
            start = time.perf_counter()
            predictions[runtime, kind] = predict(x)
            report["seconds"][f"{runtime}_{kind}"] = round(time.perf_counter() - start, 2)
            report["accuracy"].setdefault(runtime, {})[kind] = float(np.mean(predictions[runtime, kind] == labels))

    device_view = predictions["tflm", "binary"]
    with atomic_path(outputs[CONFUSION_FILE]) as path:
        plot_confusion(labels, device_view, path)
    with atomic_path(outputs[MISCLASSIFIED_FILE]) as path:
        plot_misclassified(images, labels, device_view, path)
    report["files"] = list(outputs)
    write_atomically(outputs[REPORT_FILE], json.dumps(report, indent=2) + "\n")
    return report


def check_digit_model(tflite: bytes, name) -> None:
    """ValueError naming the problem unless the .tflite is a model from a 28x28 digit to 10 scores."""
    try:
        details = {"input": convert.input_quantization(tflite), "output": convert.output_details(tflite)}
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
    for kind, size in (("input", DEVICE_INPUT_VALUES), ("output", DEVICE_OUTPUT_SCORES)):
        if int(np.prod(details[kind]["shape"])) != size:
            raise ValueError(f"{name}: its {kind} is {details[kind]['type']} {details[kind]['shape']}; an MNIST model "
                             f"takes {DEVICE_INPUT_VALUES} values (28x28) and gives {DEVICE_OUTPUT_SCORES} scores")


def _engine_runs(tflite: bytes) -> bool:
    try:
        convert.check_ops(tflite)
    except convert.UnsupportedOpsError:
        return False
    return True


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    matrix = np.zeros((10, 10), dtype=np.int64)
    np.add.at(matrix, (labels.astype(np.int64), predictions.astype(np.int64)), 1)
    return matrix


def plot_confusion(labels, predictions, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    matrix = confusion_matrix(labels, predictions)
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(np.log1p(matrix), cmap="Blues")
    for (row, col), value in np.ndenumerate(matrix):
        ax.text(col, row, str(value), ha="center", va="center", fontsize=7,
                color="white" if row == col else "black")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = np.trace(matrix) / max(1, matrix.sum())
    ax.set_title(f"TFLM runtime, 1-bit digits: {accuracy:.2%} of {matrix.sum()}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_misclassified(images, labels, predictions, path: Path, most: int = 64) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    wrong = np.flatnonzero(predictions != labels)[:most]
    columns = 8
    rows = max(1, int(np.ceil(len(wrong) / columns)))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.2, rows * 1.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, index in zip(axes.flat, wrong):
        ax.imshow(bitmaps.binarize(images[index]), cmap="gray_r")
        ax.set_title(f"#{index}: {labels[index]}->{predictions[index]}", fontsize=7)
    fig.suptitle(f"misclassified 1-bit digits (TFLM runtime): {len(np.flatnonzero(predictions != labels))}"
                 f" (first {len(wrong)} shown, true->predicted)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
