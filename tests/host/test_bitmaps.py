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


def test_digits_file_layout_and_round_trip():
    rng = np.random.default_rng(1)
    packed = bitmaps.pack(rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8))
    data = bitmaps.digits_file_bytes([7, 0, 9], packed)
    assert data[:10] == b"MNDG\x01\x1c\x1c\x00\x03\x00"
    assert data[10:13] == bytes([7, 0, 9]) and data[13:] == packed
    assert bitmaps.read_digits_file(data) == (bytes([7, 0, 9]), packed)


def test_digits_file_count_is_little_endian(tmp_path):
    packed = bytes(bitmaps.DIGIT_BYTES) * 300
    bitmaps.write_digits_file(tmp_path / "d.bin", [1] * 300, packed)
    raw = (tmp_path / "d.bin").read_bytes()
    assert raw[8:10] == (300).to_bytes(2, "little")
    assert bitmaps.read_digits_path(tmp_path / "d.bin") == (bytes([1] * 300), packed)


@pytest.mark.parametrize("damage, message", [
    (lambda d: b"MNDX" + d[4:], "not a digit set: magic"),
    (lambda d: d[:4] + b"\x02" + d[5:], "version 2, this reader knows version 1"),
    (lambda d: d[:5] + b"\x20" + d[6:], "32x28 digits, expected 28x28"),
    (lambda d: d[:-1], "should be 123 bytes, is 122"),
    (lambda d: d + b"\0", "should be 123 bytes, is 124"),
    (lambda d: d[:6], "shorter than its 10-byte header"),
])
def test_digits_file_reader_rejects_damage(damage, message):
    good = bitmaps.digits_file_bytes([5], bytes(bitmaps.DIGIT_BYTES))
    with pytest.raises(ValueError, match=message):
        bitmaps.read_digits_file(damage(good))


def test_digits_file_writer_rejects_mismatched_input():
    with pytest.raises(ValueError, match="224 bitmap bytes for 1 labels"):
        bitmaps.digits_file_bytes([1], bytes(224))
    with pytest.raises(ValueError, match="labels must be digits"):
        bitmaps.digits_file_bytes([10], bytes(112))
