"""Training recipe pieces: the pen-stroke augmentation and label smoothing."""

import numpy as np
import pytest

from mpy_mnist import train


def test_pen_strokes_replace_the_chosen_fraction_of_the_batch_only_while_training():
    rng = np.random.default_rng(0)
    scanned, pen = rng.random((64, 28, 28, 1), np.float32), rng.random((64, 28, 28, 1), np.float32)
    both = np.concatenate([scanned, pen], axis=-1)
    assert np.array_equal(np.asarray(train.RandomPenStrokes(1.0, seed=0)(both, training=True)), pen)
    assert np.array_equal(np.asarray(train.RandomPenStrokes(0.0, seed=0)(both, training=True)), scanned)
    assert np.array_equal(np.asarray(train.RandomPenStrokes(1.0, seed=0)(both, training=False)), scanned)
    mixed = np.asarray(train.RandomPenStrokes(0.5, seed=0)(both, training=True))
    from_pen = np.array([np.array_equal(m, p) for m, p in zip(mixed, pen)])
    assert all(np.array_equal(m, s) for m, s, chosen in zip(mixed, scanned, from_pen) if not chosen)
    assert 16 <= from_pen.sum() <= 48


def test_training_with_pen_strokes_and_label_smoothing_is_reproducible(mnist_dir):
    def weights():
        result = train.train(epochs=1, train_subset=256, seed=3, pen_fraction=0.5, label_smoothing=0.1,
                             data_dir=mnist_dir, verbose=0)
        assert result.model.input_shape == (None, 28, 28, 1)  # the saved model takes one digit, not the pair
        return result.model.get_weights()
    first, second = weights(), weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


@pytest.mark.parametrize("model", ["cnn", "seed-mlp"])
def test_label_smoothing_left_out_is_the_models_own(mnist_dir, model):
    # the cnn's recipe smooths its targets, the article's seed-mlp trains as the article does, without
    assert train.DEFAULT_LABEL_SMOOTHING["cnn"] != train.DEFAULT_LABEL_SMOOTHING["seed-mlp"]
    result = train.train(model=model, epochs=1, train_subset=64, data_dir=mnist_dir, verbose=0)
    assert result.recipe["label_smoothing"] == train.DEFAULT_LABEL_SMOOTHING[model]


@pytest.mark.parametrize("options, message", [
    ({"label_smoothing": 1.0}, "--label-smoothing 1.0: choose 0 "),
    ({"pen_fraction": 1.5}, "--pen-strokes 1.5: choose a fraction"),
    ({"model": "seed-mlp", "pen_fraction": 0.5}, "--pen-strokes: seed-mlp trains without augmentation"),
])
def test_bad_recipe_options_are_named(mnist_dir, options, message):
    with pytest.raises(ValueError, match=message):
        train.train(data_dir=mnist_dir, **options)
