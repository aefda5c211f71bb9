"""The mnist app on the unix port built with our tflite module, with the default model and digit set
(firmware/default_model), checked against the TFLM runtime on the host for the same bitmaps."""

import json
import re
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest

from mpy_mnist import bitmaps, firmware, paths

from device_support import allocated_bytes, allocation_script, check_screen, screen_pixels
from test_device_touch import ONE

pytestmark = pytest.mark.unix


def default_model():
    """(model bytes, labels, packed bitmaps) frozen into every firmware."""
    files = [paths.DEFAULT_MODEL_DIR / name for name in (paths.MODEL_FILE, paths.DIGITS_FILE)]
    for path in files:
        if not path.is_file():
            pytest.fail(f"{path} missing: create it with `mpy-mnist export --out firmware/default_model`",
                        pytrace=False)
    labels, packed = bitmaps.read_digits_file(files[1].read_bytes())
    return files[0].read_bytes(), labels, packed


@pytest.fixture(scope="module")
def model():
    return default_model()


@pytest.fixture
def app(mpy, tmp_path_factory):
    """The unix port with the default model and digits as the firmware freezes them (the modules the build writes)."""
    build = tmp_path_factory.mktemp("build")
    firmware.frozen_manifest(firmware.COMMON_MANIFEST, build)
    for name in (paths.MODEL_MODULE, paths.DIGITS_MODULE):
        shutil.copy(build / "default_model" / name, mpy.workdir / name)
    return mpy


def tflm_outputs(model_bytes, packed, indices):
    """The TFLM runtime's int8 inputs and outputs for the given digits: grey 0/255, /255, quantised."""
    from tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(model_bytes)
    detail = interpreter.get_input_details(0)
    quantization = detail["quantization_parameters"]
    scale, zero_point = quantization["scales"][0], quantization["zero_points"][0]
    grey = bitmaps.to_grey(bitmaps.unpack(packed)).astype(np.float64) / 255
    inputs, outputs = [], []
    for i in indices:
        q = np.clip(np.round(grey[i] / scale) + zero_point, -128, 127).astype(np.int8)
        interpreter.set_input(q.reshape(detail["shape"]), 0)
        interpreter.invoke()
        inputs.append(q.reshape(-1))
        outputs.append(interpreter.get_output(0).reshape(-1).astype(int))
    return np.array(inputs), np.array(outputs)


PREDICT = """
import json, mnist
for i in range({count}):
    prediction, scores, micros = mnist.predict(i)
    print(json.dumps(dict(i=i, prediction=prediction, raw=mnist._classifier.raw_scores(),
                          input=mnist.decode(i), micros=micros)))
"""


def test_predictions_match_the_tflm_runtime(app, model):
    model_bytes, labels, packed = model
    count = min(40, len(labels))
    rows = [json.loads(line) for line in app.output(PREDICT.format(count=count)).splitlines()]
    inputs, outputs = tflm_outputs(model_bytes, packed, range(count))
    np.testing.assert_array_equal(np.array([r["input"] for r in rows]), inputs, err_msg="decoded input differs")
    np.testing.assert_array_equal(np.array([r["raw"] for r in rows]), outputs, err_msg="scores differ from TFLM")
    assert [r["prediction"] for r in rows] == list(outputs.argmax(axis=1))
    assert all(r["micros"] > 0 for r in rows)


RUN = """
import mnist
from display.headless import Display
mnist.run(count={count}, delay_ms=0, display=Display(), sequential=True)
"""
LINE = re.compile(r"digit (\d+) label (\d) predicted (\d) score (\d+)% (\d+) us")


def test_run_prints_each_digit_and_the_accuracy(app, model):
    model_bytes, labels, packed = model
    count = min(30, len(labels))
    out = app.output(RUN.format(count=count))
    lines = [tuple(map(int, m.groups())) for m in LINE.finditer(out)]
    assert [line[0] for line in lines] == list(range(count))
    assert [line[1] for line in lines] == list(labels[:count])
    _, outputs = tflm_outputs(model_bytes, packed, range(count))
    assert [line[2] for line in lines] == list(outputs.argmax(axis=1))
    right = sum(line[1] == line[2] for line in lines)
    assert f"{count} digits, {right} right, accuracy {100 * right / count:.1f}%" in out
    assert "model: frozen mnist_model, digits: frozen mnist_digits" in out


SCREEN = """
import sys, mnist
from display.headless import Display
d = Display()
mnist.run(count=1, delay_ms=0, display=d, sequential=True)
sys.stdout.buffer.write(b"FRAME" + d.buffer)
"""


def test_run_draws_the_digit_and_results(app, micropython, model):
    _, _, packed = model
    proc = subprocess.run([str(micropython), "-c", SCREEN], cwd=app.workdir, env=app.env(), capture_output=True,
                          timeout=120, check=True)
    frame = proc.stdout.split(b"FRAME", 1)[1]
    layout = dict(x=16, y=16, scale=8, panel=256)  # mnist/screen.py's layout
    check_screen(screen_pixels(frame), bitmaps.unpack(packed[:112])[0], layout)


PICK = """
import mnist
from mnist import files
files.DEVICE_DIR = "flash"
from display.headless import Display
d = Display()
mnist.run(count=2, delay_ms=0, display=d)
print("MESSAGE INK", sum(1 for b in d.buffer[480 * 2 * 252:] if b))
"""


def test_a_model_in_flash_beats_the_frozen_one(app, model):
    (app.workdir / "flash").mkdir()
    (app.workdir / "flash" / paths.MODEL_FILE).write_bytes(model[0])
    out = app.output(PICK)
    assert "model: flash/model.tflite" in out and "unusable" not in out


def small_float_model():
    """A valid .tflite that is not a digit classifier: 4 float inputs, 3 outputs."""
    import tensorflow as tf

    net = tf.keras.Sequential([tf.keras.Input((4,), batch_size=1), tf.keras.layers.Dense(3)])
    return tf.lite.TFLiteConverter.from_keras_model(net).convert()


@pytest.mark.parametrize("damage,reason", [
    ("truncated", ""),
    ("not a model", "not a .tflite model"),
    ("wrong shape", "expected 784 int8 or float32 values (28x28)"),
])
def test_a_bad_model_in_flash_is_reported_and_the_frozen_one_used(app, model, damage, reason):
    (app.workdir / "flash").mkdir()
    data = {
        "truncated": lambda: model[0][: len(model[0]) // 3],
        "not a model": lambda: b"hello, this is not a flatbuffer" * 10,
        "wrong shape": small_float_model,
    }[damage]()
    (app.workdir / "flash" / paths.MODEL_FILE).write_bytes(data)
    out = app.output(PICK)
    assert "mnist: flash/model.tflite is unusable" in out and reason in out, out
    assert "model: frozen mnist_model" in out
    assert int(out.split("MESSAGE INK")[1]) > 0, "the problem is not shown on the screen"


NO_ALLOCATION = allocation_script("import mnist\nclassifier = mnist.load_model()\ndigits = mnist.load_digits()\n",
                                  "classifier.classify(digits, i % digits.count)")


def test_inference_allocates_nothing(app):
    allocated = allocated_bytes(app.output(NO_ALLOCATION, timeout=300))
    assert allocated < 100, f"{allocated} bytes allocated over 1,000 inferences"


def test_ctrl_c_stops_run_with_a_summary(app, micropython):
    script = "import mnist\nfrom display.headless import Display\nmnist.run(delay_ms=20, display=Display())\n"
    proc = subprocess.Popen([str(micropython), "-c", script], cwd=app.workdir, env=app.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    deadline = time.monotonic() + 60
    while len(seen) < 3 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if LINE.search(line):
            seen.append(line)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in out
    assert re.search(r"\d+ digits, \d+ right, accuracy [\d.]+%, mean inference \d+ us", out)


def test_evaluate_prints_the_accuracy(app, model):
    model_bytes, labels, packed = model
    out = app.output("import mnist\nmnist.evaluate()", timeout=600)
    _, outputs = tflm_outputs(model_bytes, packed, range(len(labels)))
    right = int((outputs.argmax(axis=1) == np.frombuffer(labels, np.uint8)).sum())
    assert f"accuracy: {right}/{len(labels)} = {100 * right / len(labels):.2f}%" in out


DRAW = """
import mnist
from fake_ft5336 import I2C
from display.headless import Display
print("PREDICTIONS", mnist.draw(rounds=1, display=Display(), i2c=I2C({strokes!r}, lift_reads=100)))
"""


def test_draw_reads_a_digit_drawn_on_the_touch_panel(app):
    out = app.output(DRAW.format(strokes=ONE), timeout=120)
    assert "PREDICTIONS [1]" in out, out


def test_a_digit_past_the_end_is_an_error(app, model):
    count = len(model[1])
    proc = app.run(f"import mnist\nmnist.predict({count})", check=False)
    assert proc.returncode != 0
    assert f"IndexError: digit {count}: this set has digits 0-{count - 1}" in proc.stderr + proc.stdout


FLOAT_PREDICT = """
import json, mnist
from mnist import files
files.DEVICE_DIR = "flash"
mnist.load_model()
print("SOURCE", mnist._classifier.source)
for i in range({count}):
    prediction, scores, micros = mnist.predict(i)
    print(json.dumps(dict(prediction=prediction, scores=scores, input=mnist.decode(i))))
"""


def test_a_float_model_runs_like_the_tflm_runtime(app, model):
    """A float32 model (the host's cnn, untrained: only the arithmetic matters) pushed to /flash."""
    from tflite_micro import runtime

    from mpy_mnist import convert, models

    float_model = convert.to_tflite(models.build("cnn"), float32=True)
    (app.workdir / "flash").mkdir()
    (app.workdir / "flash" / paths.MODEL_FILE).write_bytes(float_model)
    _, labels, packed = model
    out = app.output(FLOAT_PREDICT.format(count=5)).splitlines()
    assert out[0] == "SOURCE flash/model.tflite"
    rows = [json.loads(line) for line in out[1:]]
    interpreter = runtime.Interpreter.from_bytes(float_model)
    grey = bitmaps.to_grey(bitmaps.unpack(packed)).astype(np.float32) / 255
    for i, row in enumerate(rows):
        np.testing.assert_array_equal(np.array(row["input"], np.float32), grey[i].reshape(-1))
        interpreter.set_input(grey[i].reshape(1, 28, 28, 1), 0)
        interpreter.invoke()
        expected = interpreter.get_output(0).reshape(-1)
        np.testing.assert_allclose(row["scores"], expected, rtol=1e-5, atol=1e-6)
        assert row["prediction"] == int(expected.argmax())
