# Filling a model's 28x28 input tensor from a 1-bpp digit or a grey image.
# For int8 inputs a digit is decoded by one framebuf blit through a two-entry palette (the quantised values of
# black and white), straight into the tensor's memory: no Python loop, no allocation. Float inputs take a loop.

import framebuf
import struct
from micropython import const

_SIDE = const(28)
_PIXELS = const(784)


def quantize(real, scale, zero_point):
    """The int8 for a real value (round half to even, like the host's numpy), clamped to -128..127."""
    q = round(real / scale) + zero_point
    return -128 if q < -128 else 127 if q > 127 else q


class Decoder:
    def __init__(self, tensor_bytes, dtype, quantization):
        """tensor_bytes: the input tensor's memory as bytes (784 for int8, 3136 for float32)."""
        self.float = dtype == "float32"
        self._out = tensor_bytes
        if self.float:
            self._black = struct.pack("<f", 0.0)
            self._white = struct.pack("<f", 1.0)
            return
        scale, zero_point = quantization
        # grey 0..255 -> the tensor byte for grey/255; its two ends are the palette for 1-bpp digits.
        self._grey = bytearray(quantize(g / 255, scale, zero_point) & 0xFF for g in range(256))
        self._palette = framebuf.FrameBuffer(bytearray((self._grey[0], self._grey[255])), 2, 1, framebuf.GS8)
        self._image = framebuf.FrameBuffer(tensor_bytes, _SIDE, _SIDE, framebuf.GS8)

    def digit(self, digits, index):
        """Put digit `index` of `digits` (a files.Digits) into the tensor."""
        if not self.float:
            self._image.blit(digits.image, 0, -_SIDE * index, -1, self._palette)
            return
        out = self._out
        image = digits.image
        i = 0
        for y in range(_SIDE * index, _SIDE * index + _SIDE):
            for x in range(_SIDE):
                pattern = self._white if image.pixel(x, y) else self._black
                for k in range(4):
                    out[i + k] = pattern[k]
                i += 4

    def grey(self, image):
        """Put a 28x28 grey image (784 bytes, 0 = background, 255 = ink) into the tensor."""
        out = self._out
        if self.float:
            for i in range(_PIXELS):
                struct.pack_into("<f", out, 4 * i, image[i] / 255)
            return
        table = self._grey
        for i in range(_PIXELS):
            out[i] = table[image[i]]

    def values(self):
        """The tensor's values (int8 or float), for comparing with the host's quantisation."""
        if self.float:
            return list(struct.unpack("<784f", self._out))
        return [((b + 128) & 0xFF) - 128 for b in self._out]
