"""Drawn digits: MNIST digits as the device sees them when they are drawn with its pen.

The device (device_python/mnist/touch.py and centre.py) draws a stroke with a square pen of PEN pixels on a
CANVAS x CANVAS 1-bit canvas, then crops the ink, area-averages it to fit 20x20 and places it in 28x28 with its centre
of mass in the middle. Pen strokes have one width everywhere, which MNIST's scanned digits do not; to see what that
does to a model, each digit is thinned to its skeleton (Zhang-Suen) and the skeleton re-drawn with the device's pen
and centred by the device's recipe. `draw` and `centre` are the numpy copy of the device's code, held bit-exact
against it by tests/device/test_device_touch.py.
"""

import numpy as np

from . import bitmaps

CANVAS = 112    # touch.py _CANVAS
PEN = 12        # touch.py _PEN
SIDE = 28       # centre.py _SIDE
BOX = 20        # centre.py _BOX
SCALE = CANVAS // SIDE  # an MNIST pixel spans SCALE x SCALE canvas pixels, so a digit drawn on the canvas is
                        # as large as a person draws one in the 224x224 box and the pen is ~3 of its 20 pixels wide

# The eight neighbours of a pixel as (row, column) offsets, clockwise from north: Zhang-Suen's P2, P3, ..., P9.
_NEIGHBOURS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


def pen_points(segments: np.ndarray) -> np.ndarray:
    """The pen's positions (x, y) along each canvas segment (x0, y0, x1, y1), stepped as touch.Canvas.line does."""
    segments = np.asarray(segments, dtype=np.int64).reshape(-1, 4)
    x0, y0, x1, y1 = segments.T
    steps = np.maximum(np.maximum(abs(x1 - x0), abs(y1 - y0)), 1)
    i = np.minimum(np.arange(steps.max() + 1)[None, :], steps[:, None])  # longer segments take more steps
    xs = x0[:, None] + (x1 - x0)[:, None] * i // steps[:, None]
    ys = y0[:, None] + (y1 - y0)[:, None] * i // steps[:, None]
    return np.unique(np.stack([xs.ravel(), ys.ravel()], axis=1), axis=0)


def draw(segments: np.ndarray) -> np.ndarray:
    """The CANVAS x CANVAS canvas (bool) after touch.Canvas.line has drawn each segment (x0, y0, x1, y1), given in
    canvas pixels: a PEN x PEN square with its top left corner at (x - PEN // 2, y - PEN // 2) at every step."""
    # Mark each square's top left corner on a canvas padded by PEN, then widen the marks to squares along rows and
    # columns (clipping at the canvas edge as framebuf.fill_rect does).
    marks = np.zeros((CANVAS + 2 * PEN, CANVAS + 2 * PEN), dtype=bool)
    corners = pen_points(segments) - PEN // 2 + PEN
    inside = ((corners >= 0) & (corners < CANVAS + 2 * PEN)).all(axis=1)
    marks[corners[inside, 1], corners[inside, 0]] = True
    rows = np.zeros_like(marks)
    for k in range(PEN):
        rows[:, k:] |= marks[:, : marks.shape[1] - k]
    squares = np.zeros_like(marks)
    for k in range(PEN):
        squares[k:, :] |= rows[: marks.shape[0] - k, :]
    return squares[PEN : PEN + CANVAS, PEN : PEN + CANVAS]


def centre(canvas: np.ndarray) -> np.ndarray:
    """28x28 uint8 grey image of the ink on a 1-bit canvas, as centre.centre makes it: crop to the ink, area-average
    to fit 20x20 keeping the aspect, paste into 28x28 with the centre of mass in the middle."""
    ys, xs = np.nonzero(canvas)
    crop = canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.int64)
    h, w = crop.shape
    side = max(w, h)
    th, tw = max(1, (h * BOX + side // 2) // side), max(1, (w * BOX + side // 2) // side)
    rows = np.arange(h) * th // h
    cols = np.arange(w) * tw // w
    ink = np.zeros((th, tw), np.int64)
    area = np.zeros((th, tw), np.int64)
    np.add.at(ink, (rows[:, None], cols[None, :]), crop)
    np.add.at(area, (rows[:, None], cols[None, :]), 1)
    grey = 255 * ink // area
    cy, cx = (np.indices(grey.shape) * grey).reshape(2, -1).sum(1) / grey.sum()
    top = int(min(max(0, round(13.5 - cy)), SIDE - th))
    left = int(min(max(0, round(13.5 - cx)), SIDE - tw))
    out = np.zeros((SIDE, SIDE), np.uint8)
    out[top : top + th, left : left + tw] = grey
    return out


def skeleton(images: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of 1-bit images (..., H, W): bool, one pixel wide, connected as the ink was (a component
    that is just a 2x2 block thins to nothing, a known trait of the method)."""
    ink = np.asarray(images, dtype=bool).copy()
    while True:
        changed = False
        for first in (True, False):
            padded = np.pad(ink, [(0, 0)] * (ink.ndim - 2) + [(1, 1), (1, 1)])
            h, w = ink.shape[-2:]
            p = [padded[..., 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy, dx in _NEIGHBOURS]
            p2, p3, p4, p5, p6, p7, p8, p9 = p
            neighbours = sum(q.astype(np.int8) for q in p)
            rises = sum((~p[k] & p[(k + 1) % 8]).astype(np.int8) for k in range(8))
            if first:
                spare = ~(p2 & p4 & p6) & ~(p4 & p6 & p8)
            else:
                spare = ~(p2 & p4 & p8) & ~(p2 & p6 & p8)
            remove = ink & (neighbours >= 2) & (neighbours <= 6) & (rises == 1) & spare
            if remove.any():
                ink &= ~remove
                changed = True
        if not changed:
            return ink


def skeleton_segments(skeleton_image: np.ndarray) -> np.ndarray:
    """Canvas segments (x0, y0, x1, y1) that re-draw a 28x28 skeleton as pen strokes: one between each pair of
    8-neighbouring skeleton pixels, and a dot on every pixel (so lone pixels are drawn too)."""
    ys, xs = np.nonzero(skeleton_image)
    on = set(zip(ys.tolist(), xs.tolist()))
    pairs = [(y, x, y, x) for y, x in on]
    for y, x in on:
        for dy, dx in ((0, 1), (1, -1), (1, 0), (1, 1)):  # each neighbouring pair once
            if (y + dy, x + dx) in on:
                pairs.append((y, x, y + dy, x + dx))
    centres = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 4) * SCALE + SCALE // 2  # middles of the blocks
    return centres[:, [1, 0, 3, 2]]  # (row, col) pairs -> (x0, y0, x1, y1)


def drawn_digits(images: np.ndarray) -> np.ndarray:
    """uint8 grey digits (N, 28, 28) -> the same digits drawn with the device's pen (N, 28, 28 uint8): the 1-bit
    digit (grey >= bitmaps.THRESHOLD) thinned to its skeleton, re-drawn as pen strokes and centred as on the device.
    A digit whose skeleton is empty (a lone 2x2 block) is drawn from its 1-bit pixels instead."""
    binary = bitmaps.binarize(np.asarray(images))
    skeletons = skeleton(binary)
    out = np.empty((len(binary), SIDE, SIDE), np.uint8)
    for n, (thin, bits) in enumerate(zip(skeletons, binary)):
        out[n] = centre(draw(skeleton_segments(thin if thin.any() else bits)))
    return out
