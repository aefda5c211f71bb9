"""The project's own MNIST models (host/mpy_mnist/models.py), briefly trained on real digits and converted to int8
and float32, run by our engine and by the TFLM runtime on real test digits: every output byte-identical."""

import hashlib
import os

import numpy as np
import pytest

from mpy_mnist import data, engine, paths

DIGITS = 300
MODEL_NAMES = ["cnn", "seed-mlp"]  # models.MODELS, named here so collection does not import TensorFlow


def _trained_model(name: str, float32: bool) -> bytes:
    """A tiny training run (1 epoch, 2000 digits), converted; cached by the sources that shape it."""
    from mpy_mnist import convert, train  # TensorFlow: only when the cache misses

    sources = b"".join(p.read_bytes() for p in sorted((paths.REPO_ROOT / "host" / "mpy_mnist").glob("*.py"))
                       if p.name in ("models.py", "convert.py", "train.py"))
    key = hashlib.sha256(sources).hexdigest()[:16]
    path = paths.cache_dir() / "kernel-models" / f"mnist-{name}-{'float32' if float32 else 'int8'}-{key}.tflite"
    if not path.exists():
        result = train.train(model=name, epochs=1, train_subset=2000, seed=3, verbose=0)
        tflite = convert.to_tflite(result.model, None if float32 else result.train_images, float32=float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(tflite)
        os.replace(temporary, path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def test_digits():
    from mpy_mnist import models

    assert sorted(models.MODELS) == sorted(MODEL_NAMES), "update MODEL_NAMES to the models in models.py"
    try:
        images, labels = data.load_test_set()
    except data.DataError as exc:
        pytest.fail(f"MNIST is needed for this test: {exc}", pytrace=False)
    return models.to_model_input(images[:DIGITS]), labels[:DIGITS]


def _compare_on_digits(model: bytes, test_digits) -> int:
    """Every digit through both interpreters, outputs byte-identical; returns how many were classified right."""
    from tflite_micro import runtime

    ours = engine.Interpreter.from_bytes(model)
    reference = runtime.Interpreter.from_bytes(model, arena_size=1 << 20)
    details = reference.get_input_details(0)
    images, labels = test_digits
    if details["dtype"] == np.int8:
        scale, zero_point = details["quantization_parameters"]["scales"][0], \
            details["quantization_parameters"]["zero_points"][0]
        inputs = np.clip(np.round(images / scale) + zero_point, -128, 127).astype(np.int8)
    else:
        inputs = images.astype(np.float32)
    correct = 0
    for i in range(len(labels)):
        x = inputs[i].reshape(details["shape"])
        ours.set_input(x, 0)
        reference.set_input(x, 0)
        ours.invoke()
        reference.invoke()
        got, want = ours.get_output(0), reference.get_output(0)
        assert got.tobytes() == want.tobytes(), f"digit {i}: ours {got} vs TFLM {want}"
        correct += int(np.argmax(got) == labels[i])
    return correct


def test_default_model_matches_tflm_on_real_digits(test_digits):
    """The model frozen into the firmware (firmware/default_model), as the device runs it."""
    model = (paths.DEFAULT_MODEL_DIR / paths.MODEL_FILE).read_bytes()
    correct = _compare_on_digits(model, test_digits)
    assert correct > DIGITS * 0.9, f"only {correct}/{DIGITS} right"


@pytest.mark.slow
@pytest.mark.parametrize("float32", [False, True], ids=["int8", "float32"])
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_mnist_model_matches_tflm_on_real_digits(name, float32, test_digits):
    correct = _compare_on_digits(_trained_model(name, float32), test_digits)
    assert correct > DIGITS * 0.5, f"only {correct}/{DIGITS} right: the model did not train"
