"""export: every file round-trips to the model bytes and to the thresholded test digits."""

import ast
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from mpy_mnist import bitmaps, data, export, paths

COUNT = 23


@pytest.fixture(scope="module")
def exported(tiny_cnn, mnist_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    written = export.export(tiny_cnn.int8_path, out_dir=out, count=COUNT, data_dir=mnist_dir,
                            log=lambda message: None)
    images, labels = data.load_test_set(mnist_dir)
    indices = export.select_digits(labels, COUNT)
    return written, out, images[indices], labels[indices]


def c_array(text: str, name: str) -> bytes:
    body = re.search(rf"\b{name}\[\][^=]*=\s*\{{(.*?)\}};", text, re.S).group(1)
    return bytes(int(value, 0) for value in re.findall(r"0x[0-9A-Fa-f]+|\d+", body))


def test_every_file_is_written(exported):
    written, out, _, _ = exported
    for name in (paths.MODEL_FILE, export.MODEL_HEADER, export.DIGITS_HEADER, paths.MODEL_MODULE,
                 paths.DIGITS_FILE, paths.DIGITS_MODULE):
        assert written[name] == out / name and (out / name).stat().st_size > 0


def test_model_h_parses_back_to_the_tflite_bytes(exported, tiny_cnn):
    _, out, _, _ = exported
    text = (out / export.MODEL_HEADER).read_text()
    assert "const unsigned char tf_model[] __attribute__((aligned(16))) = {" in text
    assert c_array(text, "tf_model") == tiny_cnn.int8
    assert re.search(r"unsigned int tf_model_len = (\d+);", text).group(1) == str(len(tiny_cnn.int8))
    rows = re.findall(r"^  (0x.*?),?$", text, re.M)
    assert all(len(row.split(", ")) == 10 for row in rows[:-1]) and 1 <= len(rows[-1].split(", ")) <= 10
    assert re.search(r"0x[0-9A-F]{2}", text) and not re.search(r"0x[0-9A-F]?[a-f]", text)


def test_mnist_h_holds_each_digit_as_1bpp_with_its_label(exported):
    _, out, images, labels = exported
    text = (out / export.DIGITS_HEADER).read_text()
    for n in (1, COUNT):
        assert np.array_equal(bitmaps.unpack(c_array(text, f"mnist_{n}"))[0], images[n - 1] >= bitmaps.THRESHOLD)
    table = re.search(r"const unsigned char \*test_images\[\] = \{(.*?)\};", text).group(1)
    assert table.split(", ") == [f"mnist_{n}" for n in range(1, COUNT + 1)]
    assert list(c_array(text, "test_labels")) == labels.tolist()


def test_digits_bin_and_mnist_digits_py_hold_the_thresholded_digits(exported):
    _, out, images, labels = exported
    file_labels, file_bitmaps = bitmaps.read_digits_path(out / paths.DIGITS_FILE)
    assert list(file_labels) == labels.tolist()
    assert np.array_equal(bitmaps.unpack(file_bitmaps), images >= bitmaps.THRESHOLD)
    module = {}
    exec((out / paths.DIGITS_MODULE).read_text(), module)
    assert module["LABELS"] == file_labels and module["BITMAPS"] == file_bitmaps


@pytest.mark.parametrize("name", [paths.MODEL_MODULE, paths.DIGITS_MODULE])
def test_device_modules_hold_only_constant_assignments(exported, name):
    """What the firmware freezes and the device tests read with ast.literal_eval: nothing but NAME = b"..."."""
    _, out, _, _ = exported
    for node in ast.parse((out / name).read_text()).body:
        assert isinstance(node, ast.Assign) and isinstance(ast.literal_eval(node.value), bytes)


def test_mnist_model_py_gives_the_model_bytes(exported, tiny_cnn):
    _, out, _, _ = exported
    module = {}
    exec((out / paths.MODEL_MODULE).read_text(), module)
    assert module["MODEL"] == tiny_cnn.int8 == (out / paths.MODEL_FILE).read_bytes()


def test_selection_is_deterministic_and_cycles_through_the_classes():
    labels = np.array([3, 0, 1, 2, 4, 5, 6, 7, 8, 9, 0, 1, 9, 2, 3], np.uint8)
    assert export.select_digits(labels, 12).tolist() == [1, 2, 3, 0, 4, 5, 6, 7, 8, 9, 10, 11]
    with pytest.raises(ValueError, match="--count 0"):
        export.select_digits(labels, 0)


def test_cli_train_evaluate_export(mnist_dir, tmp_path):
    """The commands as a user runs them, on the article's small model (seconds to train)."""
    env = {**os.environ, "PYTHONPATH": str(paths.REPO_ROOT / "host")}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "mpy_mnist", *args, "--data-dir", str(mnist_dir)], env=env,
                              capture_output=True, text=True, timeout=900)

    model = tmp_path / "mlp" / "model.tflite"
    trained = run("train", "--model", "seed-mlp", "--epochs", "1", "--train-subset", "1000", "--out", str(model))
    assert trained.returncode == 0, trained.stderr
    assert "ops: RESHAPE, FULLY_CONNECTED+RELU, FULLY_CONNECTED, SOFTMAX" in trained.stdout
    summary = json.loads(model.with_suffix(".train.json").read_text())
    assert summary["train_digits"] == 1000 and summary["size_bytes"] == model.stat().st_size
    assert model.with_suffix(".keras").is_file()

    evaluated = run("evaluate", "--model", str(model), "--limit", "50", "--out", str(tmp_path / "e"))
    assert evaluated.returncode == 0, evaluated.stderr
    for runtime in ("keras", "litert", "tflm"):  # the .keras beside the .tflite is found and scored too
        assert re.search(rf"{runtime}\s+grey \d+\.\d\d%  1-bit \d+\.\d\d%", evaluated.stdout)

    exported = run("export", "--model", str(model), "--out", str(tmp_path / "x"), "--count", "5")
    assert exported.returncode == 0, exported.stderr
    assert len(bitmaps.read_digits_path(tmp_path / "x" / paths.DIGITS_FILE)[0]) == 5

    missing = run("export", "--model", str(tmp_path / "nothing.tflite"))
    assert missing.returncode == 1 and "nothing.tflite: no model; train one first" in missing.stderr
