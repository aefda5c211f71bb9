"""Bad input on every host command: one line naming the problem, a non-zero exit, nothing the user made lost, and
long work (training, evaluating) never started when its outputs cannot be written."""

import os
import subprocess
import sys

import keras
import pytest
import tensorflow as tf

from mpy_mnist import export, outputs, paths, train

HOST = str(paths.REPO_ROOT / "host")
DEFAULT_EXPORT = paths.DEFAULT_MODEL_DIR  # a model and digit set the board runs


def cli(*args, pythonpath=HOST, timeout=900):
    env = {**os.environ, "PYTHONPATH": pythonpath}
    return subprocess.run([sys.executable, "-m", "mpy_mnist", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def one_line_error(result, *parts):
    """The command failed with one `Error: ...` line holding every part, and no traceback (a bad option adds
    click's usage lines above it)."""
    assert result.returncode != 0, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if result.returncode == 2:
        assert lines[0].startswith("Usage: "), result.stderr
        lines = lines[2:]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


def tflite_of(input_shape, *layers):
    """A float32 .tflite of input_shape through layers, batch 1."""
    image = keras.Input(input_shape, batch_size=1)
    x = image
    for layer in layers:
        x = layer(x)
    return bytes(tf.lite.TFLiteConverter.from_keras_model(keras.Model(image, x)).convert())


def dense_model(input_shape, outputs_count, activation="softmax"):
    return tflite_of(input_shape, keras.layers.Flatten(), keras.layers.Dense(outputs_count, activation=activation))


@pytest.fixture(scope="session")
def bad_models(tmp_path_factory):
    """{case: (path of a .tflite the board cannot run, what the refusal must name)}."""
    directory = tmp_path_factory.mktemp("bad_models")
    huge = tflite_of((28, 28, 1), keras.layers.Conv2D(512, 3, padding="same"), keras.layers.GlobalAveragePooling2D(),
                     keras.layers.Dense(10))
    models = {
        "random bytes": (os.urandom(4000), "not a TFLite model"),
        "text": (b"this is not a model\n" * 10, "not a TFLite model"),
        "truncated": ((DEFAULT_EXPORT / paths.MODEL_FILE).read_bytes()[:20000], "outside the buffer"),
        "tanh": (dense_model((28, 28, 1), 10, "tanh"), "TANH"),
        "5 outputs": (dense_model((28, 28, 1), 5), "output is float32 [1, 5]"),
        "32x32 input": (dense_model((32, 32, 1), 10), "input is float32 [1, 32, 32, 1]"),
        "too big": (huge, "more than the 1048576"),
    }
    found = {}
    for case, (model, reason) in models.items():
        path = directory / case.replace(" ", "_") / paths.MODEL_FILE
        path.parent.mkdir()
        path.write_bytes(model)
        (path.parent / paths.DIGITS_FILE).write_bytes((DEFAULT_EXPORT / paths.DIGITS_FILE).read_bytes())
        found[case] = path, reason
    return found


CASES = ["random bytes", "text", "truncated", "tanh", "5 outputs", "32x32 input", "too big"]


# --- 1. outputs checked before the long work, written whole, the trained model kept ----------------------------


def test_train_checks_its_outputs_before_training(tmp_path, mnist_dir):
    (tmp_path / "a_file").write_text("in the way")
    result = cli("train", "--model", "seed-mlp", "--epochs", "1", "--train-subset", "200", "--data-dir",
                 str(mnist_dir), "--out", str(tmp_path / "a_file" / "model.tflite"))
    one_line_error(result, f"cannot write {tmp_path / 'a_file' / 'model.tflite'}", "choose another --out")
    assert result.stdout == ""  # no epoch was run


def test_evaluate_checks_its_outputs_before_scoring(tiny_cnn, tmp_path, mnist_dir):
    (tmp_path / "a_file").write_text("in the way")
    result = cli("evaluate", "--model", str(tiny_cnn.int8_path), "--limit", "20", "--data-dir", str(mnist_dir),
                 "--out", str(tmp_path / "a_file" / "reports"))
    one_line_error(result, "cannot write", f"{tmp_path / 'a_file'} is a file, not a folder")
    assert "evaluate:" not in result.stderr  # no runtime was started


def test_a_failed_conversion_keeps_the_trained_keras_model(tmp_path, mnist_dir, monkeypatch):
    def fails(*args, **kwargs):
        raise RuntimeError("converter broke")
    monkeypatch.setattr(train.convert, "to_tflite", fails)
    out = tmp_path / "model.tflite"
    with pytest.raises(train.ConversionError, match=f"converter broke.*kept: {out.with_suffix('.keras')}"):
        train.train_to_file(out=out, model="seed-mlp", epochs=1, train_subset=200, data_dir=mnist_dir, verbose=0)
    assert keras.models.load_model(out.with_suffix(".keras")).count_params() == 784 * 128 + 128 + 128 * 10 + 10
    assert not out.exists()


def test_an_interrupted_write_leaves_the_old_file_whole(tmp_path):
    path = tmp_path / "report.json"
    outputs.write_atomically(path, "old")
    with pytest.raises(KeyboardInterrupt):
        with outputs.atomic_path(path) as temporary:
            temporary.write_text("half of the ne")
            raise KeyboardInterrupt
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["report.json"]


# --- 2. a model the board cannot run is refused by export and push ----------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_export_refuses_a_model_the_board_cannot_run(bad_models, case, tmp_path):
    model, reason = bad_models[case]
    result = cli("export", "--model", str(model), "--out", str(tmp_path / "export"))
    one_line_error(result, str(model), "the board cannot", reason, "--force exports it anyway")
    assert not (tmp_path / "export").exists()


@pytest.mark.parametrize("case", CASES)
def test_push_refuses_a_model_the_board_cannot_run_before_connecting(bad_models, case):
    model, reason = bad_models[case]
    result = cli("push", "--port", "/dev/ttyNOSUCHPORT", "--from", str(model.parent))
    one_line_error(result, str(model), "the board cannot", reason, "--force pushes it anyway")


def test_push_force_skips_the_model_check(bad_models):
    model, _ = bad_models["tanh"]
    result = cli("push", "--force", "--port", "/dev/ttyNOSUCHPORT", "--from", str(model.parent))
    one_line_error(result, "there is no serial port /dev/ttyNOSUCHPORT")


def test_the_device_check_passes_the_models_the_board_runs(tiny_cnn):
    for model in (tiny_cnn.int8, tiny_cnn.float32, (DEFAULT_EXPORT / paths.MODEL_FILE).read_bytes()):
        export.check_device_model(model, "model")


# --- 3. evaluate and bench: bad options and bad models ----------------------------------------------------------


@pytest.mark.parametrize("limit", ["0", "-3"])
def test_evaluate_refuses_a_limit_below_one(limit, tiny_cnn):
    one_line_error(cli("evaluate", "--model", str(tiny_cnn.int8_path), "--limit", limit), "--limit")


@pytest.mark.parametrize("case", ["random bytes", "text", "truncated", "5 outputs", "32x32 input"])
def test_evaluate_refuses_a_model_that_is_not_an_mnist_model(bad_models, case, tmp_path, mnist_dir):
    model, _ = bad_models[case]
    result = cli("evaluate", "--model", str(model), "--limit", "10", "--data-dir", str(mnist_dir),
                 "--out", str(tmp_path))
    line = one_line_error(result, str(model))
    assert ("not a .tflite model" in line or "damaged" in line or "an MNIST model takes 784 values" in line), line
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("case", ["random bytes", "text", "truncated", "tanh"])
def test_bench_refuses_a_model_our_engine_cannot_run(bad_models, case):
    model, reason = bad_models[case]
    one_line_error(cli("bench", "--model", str(model)), str(model), "our engine cannot run this model", reason)


# --- 7. options before TensorFlow, no TensorFlow chatter, nothing printed before an error -----------------------


@pytest.fixture
def tensorflow_forbidden(tmp_path):
    """A PYTHONPATH on which `import tensorflow` fails: a command that checks its options first never gets there."""
    fake = tmp_path / "fake" / "tensorflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('TensorFlow was imported before the options were checked')\n")
    return f"{HOST}{os.pathsep}{fake.parent}"


@pytest.mark.parametrize("args, option", [
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--train-subset", "0"], "--train-subset"),
    (["evaluate", "--limit", "0"], "--limit"),
    (["export", "--count", "0"], "--count"),
    (["train-and-push", "--epochs", "0"], "--epochs"),
    (["train-and-push", "--run", "-1"], "--run"),
])
def test_options_are_checked_before_tensorflow_loads(tensorflow_forbidden, args, option):
    result = cli(*args, pythonpath=tensorflow_forbidden)
    assert result.returncode == 2, result.stderr
    assert option in result.stderr and "TensorFlow was imported" not in result.stderr


def test_no_tensorflow_chatter_reaches_the_user(tmp_path, mnist_dir):
    result = cli("train", "--model", "seed-mlp", "--epochs", "1", "--train-subset", "200", "--data-dir",
                 str(mnist_dir), "--out", str(tmp_path / "model.tflite"))
    assert result.returncode == 0, result.stderr
    for chatter in ("absl", "oneDNN", "cpu_feature_guard", "NodeDef", "fully_quantize"):
        assert chatter not in result.stderr, result.stderr
    assert result.stdout.count("trained seed-mlp") == 1


def test_push_to_a_missing_port_prints_only_the_error():
    result = cli("push", "--port", "/dev/does-not-exist", "--from", str(DEFAULT_EXPORT))
    one_line_error(result, "there is no serial port /dev/does-not-exist")
    assert result.stdout == ""


@pytest.fixture
def busy_port():
    """A port on 127.0.0.1 that something else is listening on."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


@pytest.mark.parametrize("args", [
    ["train-and-push", "--port", "emulator", "--view"],
    ["emulate", "--view", "--firmware", __file__],  # not a firmware: the port is refused before it is looked at
])
def test_a_view_port_in_use_stops_the_command_before_its_long_work(busy_port, tensorflow_forbidden, args):
    result = cli(*args, "--http-port", str(busy_port), pythonpath=tensorflow_forbidden, timeout=60)
    one_line_error(result, f"cannot serve the viewer on 127.0.0.1:{busy_port}", "--http-port")
    assert result.stdout == ""  # nothing trained, no board started
