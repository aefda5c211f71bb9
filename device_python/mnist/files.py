# Where the model and the digit set come from: a file pushed to the device directory (/flash) wins over the copy
# frozen into the firmware; a file that fails its checks is reported and the frozen copy is used instead.
# File names and the digit-set format are those of the host's mpy_mnist.paths and mpy_mnist.bitmaps.

import framebuf
import uctypes
from micropython import const

DEVICE_DIR = "/flash"  # tests on the unix port point this at a temporary directory
MODEL_FILE = "model.tflite"
DIGITS_FILE = "digits.bin"

_MAGIC = b"MNDG"
_VERSION = const(1)
_SIDE = const(28)
_HEADER = const(10)
DIGIT_BYTES = const(112)  # 28 rows of 4 bytes: framebuf.MONO_HLSB for a 28x28 image


def read(path):
    with open(path, "rb") as f:
        return f.read()


def _exists(path):
    try:
        open(path, "rb").close()
        return True
    except OSError:
        return False


def _frozen_model():
    try:
        from mnist_model import MODEL
    except ImportError:
        return None
    return MODEL


def _frozen_digits():
    try:
        from mnist_digits import LABELS, BITMAPS
    except ImportError:
        return None
    return LABELS, BITMAPS


def check_model(data):
    """Cheap checks before the engine parses it: a .tflite flatbuffer carries "TFL3" at bytes 4-7."""
    if len(data) < 16 or data[4:8] != b"TFL3":
        raise ValueError("not a .tflite model (no TFL3 identifier)")


def model_sources():
    """(name, loader) for each model there is, best first: the pushed file, then the frozen model."""
    path = DEVICE_DIR + "/" + MODEL_FILE
    sources = []
    if _exists(path):
        sources.append((path, lambda: read(path)))
    if _frozen_model() is not None:
        sources.append(("frozen mnist_model", _frozen_model))
    return sources


class Digits:
    """A digit set: labels and 28x28 1-bpp bitmaps, seen as one tall MONO_HLSB image (digit i = rows 28i..28i+27),
    so a digit is drawn or decoded by blitting that image with a y offset: no copy, no allocation."""

    def __init__(self, labels, bitmaps, source):
        count = len(labels)
        if count == 0:
            raise ValueError("digit set is empty")
        if len(bitmaps) != count * DIGIT_BYTES:
            raise ValueError("%d bitmap bytes for %d labels" % (len(bitmaps), count))
        for label in labels:
            if label > 9:
                raise ValueError("label %d is not a digit" % label)
        self.labels = labels
        self.count = count
        self.source = source
        # framebuf wants a writable buffer; a frozen bytes object lives in flash, so view it in place.
        self._bits = uctypes.bytearray_at(uctypes.addressof(bitmaps), len(bitmaps))
        self.image = framebuf.FrameBuffer(self._bits, _SIDE, _SIDE * count, framebuf.MONO_HLSB)

    def check(self, index):
        if not 0 <= index < self.count:
            raise IndexError("digit %d: this set has digits 0-%d" % (index, self.count - 1))

    def pixel(self, index, x, y):
        return self.image.pixel(x, y + _SIDE * index)


def parse_digits(data, source):
    """digits.bin -> Digits. Raises ValueError naming what is wrong."""
    if len(data) < _HEADER or data[0:4] != _MAGIC:
        raise ValueError("not a digit set (no MNDG header)")
    if data[4] != _VERSION:
        raise ValueError("digit set version %d, expected %d" % (data[4], _VERSION))
    if data[5] != _SIDE or data[6] != _SIDE:
        raise ValueError("digits are %dx%d, expected 28x28" % (data[5], data[6]))
    count = data[8] | data[9] << 8
    if len(data) != _HEADER + count * (1 + DIGIT_BYTES):
        raise ValueError("%d bytes for %d digits, expected %d" % (len(data), count, _HEADER + count * 113))
    view = memoryview(data)
    return Digits(view[_HEADER : _HEADER + count], view[_HEADER + count :], source)


def load_digits(path=None, report=print):
    """The digit set at `path`, or the best there is: DEVICE_DIR/digits.bin if it is valid, else the frozen set."""
    if path is not None:
        return parse_digits(read(path), path)
    path = DEVICE_DIR + "/" + DIGITS_FILE
    if _exists(path):
        try:
            return parse_digits(read(path), path)
        except (OSError, ValueError) as e:
            report("%s is unusable (%s): using the frozen digits" % (path, e))
    frozen = _frozen_digits()
    if frozen is None:
        raise OSError("no digit set: push %s to %s or build firmware with mnist_digits" % (DIGITS_FILE, DEVICE_DIR))
    return Digits(frozen[0], frozen[1], "frozen mnist_digits")
