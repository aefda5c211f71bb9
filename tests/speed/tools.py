"""What the speed tier needs: its tools (a missing one fails the test with how to install it) and a tiny model
with every op that has a DSP variant."""

import hashlib
import os
from pathlib import Path

import pytest

from needs import require_tool
from mpy_mnist import paths


def require_speed_tools():
    require_tool("arm-none-eabi-gcc", "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")
    require_tool("qemu-system-arm", "apt-get install qemu-system-arm")
    require_tool("gcc", "apt-get install gcc")
    require_tool("apt-get", "the plugin's header comes from Debian's qemu source package (apt-get source qemu)")


def _convert_tiny_model() -> bytes:
    """CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and SOFTMAX on an 8x8 image, untrained (speed does not care
    what the weights are), full-int8 with batch 1."""
    import numpy as np
    import tensorflow as tf
    from keras import Input, Sequential, layers, utils

    utils.set_random_seed(0)
    model = Sequential([Input((8, 8, 1), batch_size=1), layers.Conv2D(6, 3, activation="relu"),
                        layers.DepthwiseConv2D(3, padding="same", activation="relu"), layers.Flatten(),
                        layers.Dense(5), layers.Softmax()])
    rng = np.random.default_rng(0)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([rng.random((1, 8, 8, 1), dtype=np.float32)] for _ in range(16))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    """The tiny model's file, converted once and kept in the cache (keyed by this file's text)."""
    key = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    path = paths.cache_dir() / "speed-tests" / f"tiny-{key}.tflite"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(_convert_tiny_model())
        os.replace(temporary, path)
    return path
