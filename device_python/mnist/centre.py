# A drawn digit made to look like an MNIST digit: the ink's bounding box scaled (aspect kept) to fit 20x20 by area
# averaging, which gives grey edges, then placed in 28x28 so that its centre of mass is the image centre.

from micropython import const

_SIDE = const(28)
_BOX = const(20)


def bounding_box(canvas, width, height):
    """(x0, y0, x1, y1) of the set pixels of a MONO framebuf, x1/y1 exclusive; None when it is blank."""
    x0, y0, x1, y1 = width, height, 0, 0
    for y in range(height):
        for x in range(width):
            if canvas.pixel(x, y):
                if x < x0:
                    x0 = x
                if x >= x1:
                    x1 = x + 1
                if y < y0:
                    y0 = y
                y1 = y + 1
    return None if x1 == 0 else (x0, y0, x1, y1)


def fit_box(canvas, box):
    """The box's ink scaled so its longer side is 20: (grey bytes, width, height), grey = 255 * inked fraction."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    side = max(w, h)
    tw = max(1, (w * _BOX + side // 2) // side)
    th = max(1, (h * _BOX + side // 2) // side)
    ink = [0] * (tw * th)
    area = [0] * (tw * th)
    for y in range(h):
        row = (y * th // h) * tw
        for x in range(w):
            cell = row + x * tw // w
            area[cell] += 1
            if canvas.pixel(x0 + x, y0 + y):
                ink[cell] += 1
    return bytes(255 * ink[i] // area[i] for i in range(tw * th)), tw, th


def centre(canvas, width, height):
    """28x28 grey image (784 bytes, 255 = ink) of what is drawn on `canvas`; None when it is blank."""
    box = bounding_box(canvas, width, height)
    if box is None:
        return None
    grey, tw, th = fit_box(canvas, box)
    total = sx = sy = 0
    for y in range(th):
        for x in range(tw):
            g = grey[y * tw + x]
            total += g
            sx += g * x
            sy += g * y
    # Shift so the centre of mass lands on the image centre (13.5, 13.5), keeping the box inside the image.
    left = min(max(0, round(13.5 - sx / total)), _SIDE - tw)
    top = min(max(0, round(13.5 - sy / total)), _SIDE - th)
    image = bytearray(_SIDE * _SIDE)
    for y in range(th):
        for x in range(tw):
            image[(top + y) * _SIDE + left + x] = grey[y * tw + x]
    return image
