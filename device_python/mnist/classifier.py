# A model wrapped for 28x28 digits: decode a 1-bpp digit straight into the input tensor, invoke, pick the class.
# classify() allocates nothing for int8 models: the decoder fills the input with a framebuf blit, the output is read
# as raw bytes, and every table is built once here.

import struct
import time
import uctypes
from micropython import const

import tflite

from .decoder import Decoder

_PIXELS = const(784)
_CLASSES = const(10)


def _raw(buffer, nbytes):
    # The tensor's bytes, whatever item type its buffer reports: we write and read them as bytes.
    return uctypes.bytearray_at(uctypes.addressof(buffer), nbytes)


def _size(shape):
    n = 1
    for d in shape:
        n *= d
    return n


class Classifier:
    def __init__(self, model, source="", arena_size=None):
        self.source = source
        self.model = model  # the interpreter uses these bytes in place: keep them alive
        if arena_size is None:
            self.interpreter = tflite.Interpreter(model)
        else:
            self.interpreter = tflite.Interpreter(model, arena_size)
        inp = self.interpreter.get_input_details(0)
        out = self.interpreter.get_output_details(0)
        if _size(inp["shape"]) != _PIXELS or inp["dtype"] not in ("int8", "float32"):
            raise ValueError("model input is %s %s, expected 784 int8 or float32 values (28x28)"
                             % (inp["dtype"], inp["shape"]))
        if _size(out["shape"]) != _CLASSES or out["dtype"] not in ("int8", "float32"):
            raise ValueError("model output is %s %s, expected 10 int8 or float32 scores" % (out["dtype"], out["shape"]))
        self.input_float = inp["dtype"] == "float32"
        self.output_float = out["dtype"] == "float32"
        self.input_quantization = inp["quantization"]
        self.output_quantization = out["quantization"]
        self._input = _raw(self.interpreter.input(0), _PIXELS * (4 if self.input_float else 1))
        self._output = _raw(self.interpreter.output(0), _CLASSES * (4 if self.output_float else 1))
        self.decoder = Decoder(self._input, inp["dtype"], self.input_quantization)
        self._prepare_output()
        self.micros = 0  # time of the last invoke()

    def _prepare_output(self):
        if self.output_float:
            return
        scale, zero_point = self.output_quantization
        # raw output byte -> whole percent, for the bars and the console.
        self._percent = bytearray(
            max(0, min(100, round(100 * scale * (((b + 128) & 0xFF) - 128 - zero_point)))) for b in range(256)
        )

    def decode(self, digits, index):
        """Put digit `index` of `digits` (a files.Digits) into the input tensor."""
        self.decoder.digit(digits, index)

    def invoke(self):
        """Run the model on the input tensor; returns the predicted class, sets self.micros."""
        start = time.ticks_us()
        self.interpreter.invoke()
        self.micros = time.ticks_diff(time.ticks_us(), start)
        return self.best()

    def classify(self, digits, index):
        self.decode(digits, index)
        return self.invoke()

    def best(self):
        if self.output_float:
            scores = self.scores()
            return scores.index(max(scores))
        out = self._output
        best = 0
        # int8 order is unsigned byte order with the top bit flipped: compare raw bytes without converting.
        for k in range(1, _CLASSES):
            if out[k] ^ 0x80 > out[best] ^ 0x80:
                best = k
        return best

    def percent(self, k):
        """Score of class k in whole percent (0-100)."""
        if self.output_float:
            return max(0, min(100, round(100 * self.scores()[k])))
        return self._percent[self._output[k]]

    def scores(self):
        """The ten scores as floats (dequantised for int8 models). Allocates: for the REPL, not the loop."""
        if self.output_float:
            return list(struct.unpack("<10f", self._output))
        scale, zero_point = self.output_quantization
        return [scale * (((b + 128) & 0xFF) - 128 - zero_point) for b in self._output]

    def raw_scores(self):
        """The output tensor's values as the model wrote them (int8 or float), for comparing with other runtimes."""
        if self.output_float:
            return self.scores()
        return [((b + 128) & 0xFF) - 128 for b in self._output]
