"""The models: the article's seed MLP, and a small CNN sized for the STM32F746 (int8 file <= 64 KB, arena <= 16 KB).

Both take a (28, 28, 1) float image in [0, 1] (grey / 255) and give 10 softmax scores. Normalisation stays outside
the model so the int8 input quantisation comes out as scale 1/255, zero point -128: the device feeds grey - 128.
Only layers that convert to ops our device engine runs (convert.engine_ops()) are used.
"""

import keras
import numpy as np
from keras import layers

from . import bitmaps

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 grey (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1], what the models take."""
    return (np.asarray(images, dtype=np.float32) / 255.0)[..., np.newaxis]


def binarize_input(x: np.ndarray) -> np.ndarray:
    """Model input -> the model input of the device's 1-bit version of the same digits (0.0 or 1.0)."""
    return to_model_input(bitmaps.to_grey(bitmaps.binarize(np.rint(np.asarray(x)[..., 0] * 255.0))))


def seed_mlp(hidden: int = 128) -> keras.Model:
    """The article's model: Flatten -> Dense(hidden, relu) -> Dense(10, softmax)."""
    return keras.Sequential([
        keras.Input(INPUT_SHAPE),
        layers.Flatten(),
        layers.Dense(hidden, activation="relu"),
        layers.Dense(NUM_CLASSES, activation="softmax"),
    ], name="seed_mlp")


def _conv_bn_relu(filters: int, kernel: int) -> list:
    """Convolution, batch normalisation, ReLU: the converter folds the normalisation into the int8 convolution's
    weights and fuses the ReLU, so this is one CONV_2D+RELU on the device."""
    return [layers.Conv2D(filters, kernel, use_bias=False), layers.BatchNormalization(), layers.ReLU()]


def cnn() -> keras.Model:
    """Three valid convolutions (5x5, 3x3, 3x3) with max pooling, then one dense layer: 40 k parameters.

    The arena's peak is the first convolution's output next to its pooled copy (24x24x16 + 12x12x16 int8 = 11.3 KB):
    a 5x5 kernel without padding and only 16 channels keep that, plus TFLM's bookkeeping, inside a 16 KB arena.
    The later layers are small in activations, so they get the channels (48, 64).
    """
    return keras.Sequential([
        keras.Input(INPUT_SHAPE),
        *_conv_bn_relu(16, 5),                       # 24x24x16
        layers.MaxPooling2D(2),                      # 12x12x16
        *_conv_bn_relu(48, 3),                       # 10x10x48
        layers.MaxPooling2D(2),                      # 5x5x48
        *_conv_bn_relu(64, 3),                       # 3x3x64
        layers.Flatten(),
        layers.Dropout(0.3),
        layers.Dense(NUM_CLASSES, activation="softmax"),
    ], name="cnn")


MODELS = {"cnn": cnn, "seed-mlp": seed_mlp}


def build(name: str) -> keras.Model:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    return MODELS[name]()
