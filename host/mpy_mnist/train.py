"""Training: seeded and reproducible, with the augmentation the device needs.

The device feeds the model 1-bit digits (grey >= bitmaps.THRESHOLD becomes 255, else 0), so the CNN trains on a mix:
each batch is shifted, rotated and zoomed a little, then a random half of it is binarised exactly as the device does.
Its targets are label-smoothed (DEFAULT_LABEL_SMOOTHING). Optionally a fraction of each batch is first swapped for the
same digits re-drawn with the device's pen (drawn.py). The augmentation layers wrap the model only while training; the
model that is saved and converted is the bare one.
"""

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from . import bitmaps, convert, data, drawn, models, paths
from .outputs import atomic_path, check_writable, write_atomically

# The recipe each model trains with when no option says otherwise (README: Training, the recipe experiments).
DEFAULT_EPOCHS = {"cnn": 50, "seed-mlp": 5}
DEFAULT_LABEL_SMOOTHING = {"cnn": 0.1, "seed-mlp": 0.0}
BINARIZED_FRACTION = 0.5


def set_seed(seed: int) -> None:
    """Same seed, same machine, same model: seeds Python, NumPy and TF, and asks TF for deterministic kernels."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


class RandomBinarize(layers.Layer):
    """While training, turn a random `fraction` of the batch into 1-bit digits, thresholded as on the device."""

    def __init__(self, fraction: float = BINARIZED_FRACTION, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.fraction = fraction
        self.seed_generator = keras.random.SeedGenerator(seed)
        # grey g >= THRESHOLD  <=>  g / 255 > (THRESHOLD - 0.5) / 255, without float rounding doubts at the edge
        self.threshold = (bitmaps.THRESHOLD - 0.5) / 255.0

    def call(self, x, training=None):
        if not training:
            return x
        batch = keras.ops.shape(x)[0]
        chosen = keras.random.uniform((batch, 1, 1, 1), seed=self.seed_generator) < self.fraction
        binary = keras.ops.cast(x > self.threshold, x.dtype)
        return keras.ops.where(chosen, binary, x)

    def get_config(self):
        return {**super().get_config(), "fraction": self.fraction}


class RandomPenStrokes(layers.Layer):
    """Takes each digit twice, as scanned and re-drawn with the device's pen (channels 0 and 1, drawn.drawn_digits);
    while training a random `fraction` of the batch is the pen version, otherwise always the scanned one."""

    def __init__(self, fraction: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.fraction = fraction
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        scanned, pen = x[..., :1], x[..., 1:]
        if not training:
            return scanned
        batch = keras.ops.shape(x)[0]
        chosen = keras.random.uniform((batch, 1, 1, 1), seed=self.seed_generator) < self.fraction
        return keras.ops.where(chosen, pen, scanned)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 1)

    def get_config(self):
        return {**super().get_config(), "fraction": self.fraction}


def augmentation(seed: int, pen_fraction: float = 0.0) -> list:
    """Pen strokes for some digits (if pen_fraction), small shifts, rotations and zooms (handwriting on the LCD is
    never perfectly centred), then binarisation."""
    pen = [RandomPenStrokes(pen_fraction, seed=seed + 4)] if pen_fraction else []
    return [
        *pen,
        layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed),
        layers.RandomRotation(10 / 360, fill_mode="constant", seed=seed + 1),
        layers.RandomZoom(0.1, fill_mode="constant", seed=seed + 2),
        RandomBinarize(seed=seed + 3),
    ]


class ConversionError(Exception):
    """Training finished but the model did not convert to a .tflite the device runs; the Keras model is kept."""


@dataclass
class TrainResult:
    model: keras.Model                 # the bare model (no augmentation), ready for convert.to_tflite
    train_images: np.ndarray           # the uint8 training digits used (for the representative dataset)
    seconds: float                     # wall-clock time of preparing the inputs and model.fit
    cpu_seconds: float                 # CPU time of the same, all threads: the figure a busy machine does not skew
    history: dict = field(default_factory=dict)
    recipe: dict = field(default_factory=dict)  # the label smoothing and pen-stroke fraction it was trained with


def train(model: str = "cnn", epochs: int | None = None, seed: int = 0, train_subset: int | None = None,
          batch_size: int = 128, label_smoothing: float | None = None, pen_fraction: float = 0.0, data_dir=None,
          verbose: int | str = "auto", log=data._stderr) -> TrainResult:
    """Train `model` ("cnn" or "seed-mlp") on MNIST; `train_subset` keeps the first N training digits (for tests).
    label_smoothing: spread that much of each target over all ten classes; pen_fraction: re-draw that fraction of
    each CNN batch with the device's pen (RandomPenStrokes). Epochs and label_smoothing left None take the model's
    default recipe (DEFAULT_EPOCHS, DEFAULT_LABEL_SMOOTHING)."""
    if model not in models.MODELS:
        raise ValueError(f"unknown model {model!r}: choose one of {', '.join(models.MODELS)}")
    if epochs is None:
        epochs = DEFAULT_EPOCHS[model]
    if label_smoothing is None:
        label_smoothing = DEFAULT_LABEL_SMOOTHING[model]
    if epochs < 1:
        raise ValueError(f"--epochs {epochs}: train for at least 1 epoch")
    if not 0 <= label_smoothing < 1:
        raise ValueError(f"--label-smoothing {label_smoothing}: choose 0 (none) up to, not including, 1")
    if not 0 <= pen_fraction <= 1:
        raise ValueError(f"--pen-strokes {pen_fraction}: choose a fraction of each batch from 0 to 1")
    if pen_fraction and model != "cnn":
        raise ValueError(f"--pen-strokes: {model} trains without augmentation; pen strokes are for the cnn")
    (train_images, train_labels), _ = data.load(data_dir, log=log)
    if train_subset is not None and not 1 <= train_subset <= len(train_images):
        raise ValueError(f"--train-subset {train_subset}: choose 1 to {len(train_images)} training digits")
    if train_subset:
        train_images, train_labels = train_images[:train_subset], train_labels[:train_subset]
    start, cpu_start = time.perf_counter(), time.process_time()
    inputs = models.to_model_input(train_images)
    if pen_fraction:
        log(f"train: re-drawing {len(train_images)} digits with the device's pen")
        inputs = np.concatenate([inputs, models.to_model_input(drawn.drawn_digits(train_images))], axis=-1)
    set_seed(seed)
    net = models.build(model)
    if model == "cnn":
        trainer = keras.Sequential([keras.Input(inputs.shape[1:]), *augmentation(seed, pen_fraction), net],
                                   name="trainer")
    else:
        trainer = net  # the article's model, trained as the article does
    steps = epochs * int(np.ceil(len(train_images) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(2e-3, decay_steps=steps, alpha=0.02)
    if label_smoothing:
        targets = keras.utils.to_categorical(train_labels, models.NUM_CLASSES)
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
    else:
        targets, loss = train_labels, "sparse_categorical_crossentropy"
    trainer.compile(optimizer=keras.optimizers.Adam(schedule), loss=loss, metrics=["accuracy"])
    history = trainer.fit(inputs, targets, batch_size=batch_size, epochs=epochs,
                          shuffle=True, verbose=verbose)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    return TrainResult(model=net, train_images=train_images, seconds=seconds, cpu_seconds=cpu_seconds,
                       history=history.history,
                       recipe={"label_smoothing": label_smoothing, "pen_fraction": pen_fraction})


def train_to_file(out=None, model: str = "cnn", epochs: int | None = None, seed: int = 0,
                  train_subset: int | None = None, label_smoothing: float | None = None, pen_fraction: float = 0.0,
                  float32: bool = False, data_dir=None, verbose: int | str = "auto", log=data._stderr) -> dict:
    """Train, convert (int8 unless float32) and check the ops; writes the .tflite at `out` (default
    paths.default_model_path()), the Keras model beside it (.keras) and a summary (.train.json). Returns the summary."""
    out = Path(out) if out else paths.default_model_path()
    keras_path, summary_path = out.with_suffix(".keras"), out.with_suffix(".train.json")
    check_writable(out, keras_path, summary_path)  # before the training, not after it
    result = train(model=model, epochs=epochs, seed=seed, train_subset=train_subset, label_smoothing=label_smoothing,
                   pen_fraction=pen_fraction, data_dir=data_dir, verbose=verbose, log=log)
    with atomic_path(keras_path) as temporary:
        result.model.save(temporary)
    try:
        tflite = convert.to_tflite(result.model, result.train_images, float32=float32)
        ops = convert.check_ops(tflite)
    except Exception as error:  # the converter raises whatever it meets; the trained model must not be lost
        raise ConversionError(f"the conversion failed ({error}); the trained Keras model is kept: {keras_path}") \
            from error
    write_atomically(out, tflite)
    summary = {
        "model": model, "epochs": len(result.history["loss"]), "seed": seed, **result.recipe,
        "train_digits": int(len(result.train_images)),
        "type": "float32" if float32 else "int8", "params": int(result.model.count_params()),
        "train_seconds": round(result.seconds, 1), "train_cpu_seconds": round(result.cpu_seconds, 1),
        "size_bytes": len(tflite), "ops": ops,
        "final_train_accuracy": round(float(result.history["accuracy"][-1]), 4),
        "files": [out.name, keras_path.name],
    }
    write_atomically(summary_path, json.dumps(summary, indent=2) + "\n")
    return summary
