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


# The digit-set file (paths.DIGITS_FILE, "digits.bin"), read by the device app:
#   bytes 0-3  b"MNDG"            magic
#   byte  4    1                  version
#   byte  5    28                 width
#   byte  6    28                 height
#   byte  7    0                  reserved
#   bytes 8-9  count              uint16, little-endian
#   then count label bytes (0-9), then count * 112 bitmap bytes (pack's format, digit after digit).
DIGITS_MAGIC = b"MNDG"
DIGITS_VERSION = 1
DIGITS_HEADER_BYTES = 10
MAX_DIGITS = 0xFFFF


def digits_file_bytes(labels, bitmaps: bytes) -> bytes:
    """The digit-set file for labels (ints 0-9) and their packed bitmaps (112 bytes each)."""
    labels = bytes(int(label) for label in labels)
    count = len(labels)
    if count > MAX_DIGITS:
        raise ValueError(f"{count} digits: a digit set holds at most {MAX_DIGITS}")
    if len(bitmaps) != count * DIGIT_BYTES:
        raise ValueError(f"{len(bitmaps)} bitmap bytes for {count} labels: expected {count * DIGIT_BYTES}")
    if any(label > 9 for label in labels):
        raise ValueError("labels must be digits 0-9")
    header = DIGITS_MAGIC + bytes([DIGITS_VERSION, WIDTH, HEIGHT, 0]) + count.to_bytes(2, "little")
    return header + labels + bytes(bitmaps)


def read_digits_file(data: bytes) -> tuple[bytes, bytes]:
    """Inverse of digits_file_bytes: (labels, bitmaps). Rejects a wrong magic, version, size or length."""
    if len(data) < DIGITS_HEADER_BYTES:
        raise ValueError(f"digit set is {len(data)} bytes, shorter than its {DIGITS_HEADER_BYTES}-byte header")
    if data[0:4] != DIGITS_MAGIC:
        raise ValueError(f"not a digit set: magic {bytes(data[0:4])!r}, expected {DIGITS_MAGIC!r}")
    if data[4] != DIGITS_VERSION:
        raise ValueError(f"digit set version {data[4]}, this reader knows version {DIGITS_VERSION}")
    if (data[5], data[6]) != (WIDTH, HEIGHT):
        raise ValueError(f"digit set of {data[5]}x{data[6]} digits, expected {WIDTH}x{HEIGHT}")
    count = int.from_bytes(data[8:10], "little")
    expected = DIGITS_HEADER_BYTES + count * (1 + DIGIT_BYTES)
    if len(data) != expected:
        raise ValueError(f"digit set of {count} digits should be {expected} bytes, is {len(data)}")
    labels = bytes(data[DIGITS_HEADER_BYTES:DIGITS_HEADER_BYTES + count])
    return labels, bytes(data[DIGITS_HEADER_BYTES + count:])


def write_digits_file(path, labels, bitmaps: bytes) -> None:
    with open(path, "wb") as f:
        f.write(digits_file_bytes(labels, bitmaps))


def read_digits_path(path) -> tuple[bytes, bytes]:
    with open(path, "rb") as f:
        return read_digits_file(f.read())
