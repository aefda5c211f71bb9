"""The one definition of the 1-bit-per-pixel digit format shared by the host, the exports and the device.

A digit is 28x28 pixels, one bit each, rows top to bottom, each row 4 bytes with the leftmost pixel in the
most significant bit (28 bits used, 4 bits of padding, zero). That is 112 bytes a digit, exactly MicroPython's
`framebuf.MONO_HLSB` layout for a 28x28 frame buffer. A pixel is set when its 8-bit grey value is >= THRESHOLD.
"""

import numpy as np

WIDTH = 28
HEIGHT = 28
ROW_BYTES = (WIDTH + 7) // 8
DIGIT_BYTES = ROW_BYTES * HEIGHT
THRESHOLD = 128


def binarize(images: np.ndarray, threshold: int = THRESHOLD) -> np.ndarray:
    """uint8 grey (..., 28, 28) -> bool (..., 28, 28); set where grey >= threshold."""
    return np.asarray(images) >= threshold


def pack(images: np.ndarray, threshold: int = THRESHOLD) -> bytes:
    """Pack one (28, 28) or many (N, 28, 28) uint8 grey digits into 112 bytes each, MONO_HLSB."""
    bits = binarize(images, threshold).reshape(-1, HEIGHT, WIDTH)
    padded = np.zeros((bits.shape[0], HEIGHT, ROW_BYTES * 8), dtype=bool)
    padded[:, :, :WIDTH] = bits
    return np.packbits(padded, axis=-1, bitorder="big").tobytes()


def unpack(data: bytes) -> np.ndarray:
    """Inverse of pack: 112*N bytes -> bool (N, 28, 28)."""
    if len(data) % DIGIT_BYTES:
        raise ValueError(f"1-bpp digit data is {len(data)} bytes, not a multiple of {DIGIT_BYTES}")
    raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, HEIGHT, ROW_BYTES)
    return np.unpackbits(raw, axis=-1, bitorder="big")[:, :, :WIDTH].astype(bool)


def to_grey(bits: np.ndarray) -> np.ndarray:
    """bool digits -> uint8 0/255, the grey image the device feeds the model."""
    return np.where(bits, 255, 0).astype(np.uint8)
