"""The drawn-digit test set (drawn.py): thinning to a skeleton, and re-drawing it with the device's pen. That the
numpy pen and centring are the device's own is checked against the unix port in tests/device/test_device_touch.py."""

import numpy as np
import pytest
from scipy import ndimage

from mpy_mnist import data, drawn

EIGHT = np.ones((3, 3), bool)  # 8-connectivity for the ink; the background is then 4-connected


def thick(rows, cols, points, width):
    """A 1-bit image: every pixel within `width`/2 of the polyline through `points` (row, col)."""
    yy, xx = np.mgrid[:rows, :cols]
    ink = np.zeros((rows, cols), bool)
    for (y0, x0), (y1, x1) in zip(points, points[1:]):
        for t in np.linspace(0, 1, 50):
            ink |= (yy - (y0 + t * (y1 - y0))) ** 2 + (xx - (x0 + t * (x1 - x0))) ** 2 <= (width / 2) ** 2
    return ink


def ring(size=28, outer=11, inner=6):
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    r2 = yy**2 + xx**2
    return (r2 <= outer**2) & (r2 >= inner**2)


SHAPES = {
    "bar": thick(28, 28, [(14, 4), (14, 23)], 6),
    "diagonal": thick(28, 28, [(4, 4), (23, 23)], 5),
    "seven": thick(28, 28, [(5, 6), (5, 21), (23, 10)], 4),
    "four": np.maximum(thick(28, 28, [(4, 8), (16, 5), (16, 22)], 4), thick(28, 28, [(6, 17), (24, 17)], 4)),
    "ring": ring(),
}


def holes(ink):
    """Background regions (4-connected) that do not touch the border."""
    labels, count = ndimage.label(np.pad(~ink, 1))
    return count - 1


@pytest.mark.parametrize("name", SHAPES)
def test_skeleton_is_thin_and_connected_like_the_ink(name):
    ink = SHAPES[name]
    thin = drawn.skeleton(ink)
    assert thin.sum() > 0 and not (thin & ~ink).any(), "the skeleton lies inside the ink"
    assert thin.sum() < ink.sum() / 2, "the stroke was not thinned"
    # one pixel wide: no 2x2 block of skeleton pixels
    assert not (thin[1:, 1:] & thin[:-1, 1:] & thin[1:, :-1] & thin[:-1, :-1]).any()
    assert ndimage.label(thin, EIGHT)[1] == ndimage.label(ink, EIGHT)[1] == 1
    assert holes(thin) == holes(ink)


def test_skeleton_of_a_bar_is_its_centre_line():
    bar = np.zeros((28, 28), bool)
    bar[10:17, 3:25] = True  # rows 10-16: the centre row is 13
    thin = drawn.skeleton(bar)
    assert (np.nonzero(thin)[0] == 13).all() and thin[13, 7:20].all()


def test_skeleton_thins_a_batch_as_each_image_alone():
    batch = np.stack(list(SHAPES.values()))
    assert np.array_equal(drawn.skeleton(batch), np.stack([drawn.skeleton(ink) for ink in batch]))


def test_a_redrawn_line_is_the_pen_wide():
    # a vertical skeleton line of 15 pixels -> a pen stroke PEN canvas pixels wide, 14 * SCALE + PEN long
    line = np.zeros((28, 28), bool)
    line[6:21, 13] = True
    canvas = drawn.draw(drawn.skeleton_segments(line))
    ys, xs = np.nonzero(canvas)
    assert xs.max() - xs.min() + 1 == drawn.PEN
    assert ys.max() - ys.min() + 1 == 14 * drawn.SCALE + drawn.PEN
    assert canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].all()


def test_drawn_digits_are_centred_20_pixel_pen_strokes(mnist_dir):
    images, _ = data.load_test_set(mnist_dir)
    digits = drawn.drawn_digits(images[:50])
    assert digits.shape == (50, 28, 28) and digits.dtype == np.uint8
    for digit in digits:
        ys, xs = np.nonzero(digit)
        assert max(ys.max() - ys.min(), xs.max() - xs.min()) + 1 == drawn.BOX
        cy, cx = (np.indices(digit.shape) * digit).reshape(2, -1).sum(1) / digit.sum()
        assert abs(cy - 13.5) <= 0.5 and abs(cx - 13.5) <= 0.5
        # uniform pen: solid ink inside, grey only at the edges, so most ink is full
        assert (digit == 255).sum() > (digit > 0).sum() / 3
