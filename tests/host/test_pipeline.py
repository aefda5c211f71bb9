"""Train (tiny) -> convert int8 and float -> ops the engine runs -> evaluate under Keras, LiteRT and TFLM."""

import json

import keras
import numpy as np
import pytest

from mpy_mnist import convert, evaluate, models, train

ENGINE_ARENA_BUDGET = 16 * 1024


def test_int8_model_has_int8_input_scaled_as_the_device_feeds_it(tiny_cnn):
    quant = convert.input_quantization(tiny_cnn.int8)
    assert quant["type"] == "INT8" and quant["shape"] == [1, 28, 28, 1]
    # grey g in [0, 255] -> int8 g - 128: the device needs no arithmetic beyond a subtraction
    assert quant["scale"] == pytest.approx(1 / 255) and quant["zero_point"] == -128
    assert convert.input_quantization(tiny_cnn.float32)["type"] == "FLOAT32"


@pytest.mark.parametrize("kind", ["int8", "float32"])
def test_converted_ops_are_all_run_by_the_device_engine(tiny_cnn, kind):
    ops = convert.check_ops(getattr(tiny_cnn, kind))
    assert ops == ["CONV_2D+RELU", "MAX_POOL_2D", "CONV_2D+RELU", "MAX_POOL_2D", "CONV_2D+RELU", "RESHAPE",
                   "FULLY_CONNECTED", "SOFTMAX"]


def test_an_op_outside_the_engine_fails_clearly():
    net = keras.Sequential([keras.Input(models.INPUT_SHAPE), keras.layers.Flatten(),
                            keras.layers.Dense(10, activation="tanh")])
    tflite = convert.to_tflite(net, float32=True)
    with pytest.raises(convert.UnsupportedOpsError, match="uses TANH, which the device engine does not run"):
        convert.check_ops(tflite)


def test_the_seed_mlp_trains_and_converts_to_engine_ops(mnist_dir):
    result = train.train(model="seed-mlp", epochs=1, train_subset=2000, data_dir=mnist_dir, verbose=0)
    assert result.model.count_params() == 784 * 128 + 128 + 128 * 10 + 10
    ops = convert.check_ops(convert.to_tflite(result.model, result.train_images))
    assert ops == ["RESHAPE", "FULLY_CONNECTED+RELU", "FULLY_CONNECTED", "SOFTMAX"]


def test_training_is_reproducible(mnist_dir):
    def weights():
        result = train.train(model="cnn", epochs=1, train_subset=512, seed=7, data_dir=mnist_dir, verbose=0)
        return result.model.get_weights()
    first, second = weights(), weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


def test_binarisation_matches_the_device_threshold():
    grey = np.array([[0, 127, 128, 255]], np.uint8).repeat(7, axis=0).reshape(1, 28, 1)
    grey = np.tile(grey, (28, 1, 1)).reshape(1, 28, 28)
    x = models.to_model_input(grey)
    expected = (grey >= 128).astype(np.float32)[..., np.newaxis]
    assert np.array_equal(models.binarize_input(x), expected)
    layer = train.RandomBinarize(fraction=1.0, seed=0)
    assert np.array_equal(np.asarray(layer(x, training=True)), expected)
    assert np.array_equal(np.asarray(layer(x, training=False)), x)


@pytest.fixture(scope="module")
def report(tiny_cnn, mnist_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("evaluate")
    evaluate.evaluate(tiny_cnn.int8_path, keras_model=tiny_cnn.result.model, limit=200, data_dir=mnist_dir,
                      out_dir=out, log=lambda message: None)
    return json.loads((out / evaluate.REPORT_FILE).read_text()), out


def test_evaluate_scores_all_three_runtimes_on_grey_1bit_and_drawn(report):
    report, _ = report
    assert report["test_digits"] == 200
    for runtime in ("keras", "litert", "tflm"):
        # one epoch on 2000 digits: far from chance (0.1), far from finished (and weaker on pen strokes it never saw)
        for kind, better_than in (("grey", 0.5), ("binary", 0.5), ("drawn", 0.2)):
            assert better_than < report["accuracy"][runtime][kind] <= 1.0, (runtime, kind)
    # LiteRT and TFLM run the same int8 graph: they agree on (nearly) every digit
    for kind in ("grey", "binary", "drawn"):
        assert abs(report["accuracy"]["litert"][kind] - report["accuracy"]["tflm"][kind]) <= 0.01


def test_evaluate_reports_the_model_facts(report, tiny_cnn):
    report, out = report
    assert report["size_bytes"] == len(tiny_cnn.int8) <= 64 * 1024
    assert report["ops"] == convert.op_list(tiny_cnn.int8) and report["ops_supported_by_engine"]
    assert 0 < report["tflm_arena_bytes"] <= ENGINE_ARENA_BUDGET
    for name in report["files"]:
        assert (out / name).stat().st_size > 0
    assert (out / evaluate.CONFUSION_FILE).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_float_model_under_litert_and_tflm_agrees_with_keras(tiny_cnn, mnist_dir):
    from mpy_mnist import data
    images, _ = data.load_test_set(mnist_dir)
    x = models.to_model_input(images[:100])
    keras_predictions = evaluate.predict_keras(tiny_cnn.result.model, x)
    assert np.mean(evaluate.predict_litert(tiny_cnn.float32, x) == keras_predictions) >= 0.99
    assert np.mean(evaluate.predict_tflm(tiny_cnn.float32, x) == keras_predictions) >= 0.99


@pytest.mark.parametrize("options, message", [
    ({"model": "resnet"}, "unknown model 'resnet': choose one of cnn, seed-mlp"),
    ({"epochs": 0}, "--epochs 0: train for at least 1 epoch"),
    ({"train_subset": 60001}, "--train-subset 60001: choose 1 to 60000"),
])
def test_bad_training_options_are_named(mnist_dir, options, message):
    with pytest.raises(ValueError, match=message):
        train.train(data_dir=mnist_dir, **options)
