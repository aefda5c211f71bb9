import numpy as np
import pytest

from mpy_mnist import bitmaps


def test_pack_layout_is_mono_hlsb():
    img = np.zeros((28, 28), np.uint8)
    img[0, 0] = 255  # top-left: MSB of byte 0
    img[0, 27] = 200  # last pixel of row 0: bit 4 of byte 3
    img[1, 8] = 128  # threshold is inclusive: MSB of byte 1 of row 1
    img[2, 3] = 127  # below threshold: clear
    data = bitmaps.pack(img)
    assert len(data) == bitmaps.DIGIT_BYTES == 112
    assert data[0] == 0x80 and data[3] == 0x10
    assert data[4 + 1] == 0x80
    assert sum(data) == 0x80 + 0x10 + 0x80


def test_round_trip_gives_back_the_thresholded_digit():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    assert np.array_equal(bitmaps.unpack(bitmaps.pack(imgs)), imgs >= 128)


def test_unpack_rejects_a_partial_digit():
    with pytest.raises(ValueError, match="multiple of 112"):
        bitmaps.unpack(bytes(100))
