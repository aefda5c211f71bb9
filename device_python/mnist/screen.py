# What the app shows on a 480x272 display: the digit drawn large on the left; on the right the prediction,
# the ten scores as bars, the true label, the running accuracy, the inference time. framebuf's 8x8 font only;
# the big prediction is that font scaled up.

import framebuf
from micropython import const

from display import rgb

DIGIT_X = const(16)  # the digit: 28x28 pixels drawn as 8x8 blocks
DIGIT_Y = const(16)
DIGIT_SCALE = const(8)
PANEL_X = const(256)
BAR_X = const(PANEL_X + 16)
BAR_Y = const(72)
BAR_STEP = const(14)
BAR_LENGTH = const(150)
STATS_Y = const(218)
MESSAGE_Y = const(252)  # two lines of text at the bottom

BLACK = 0
WHITE = rgb(255, 255, 255)
GREY = rgb(96, 96, 96)
GREEN = rgb(0, 200, 0)
RED = rgb(230, 0, 0)
YELLOW = rgb(255, 220, 0)


class Screen:
    def __init__(self, display):
        self.display = display
        self._glyph_bytes = bytearray(8)
        self._glyph = framebuf.FrameBuffer(self._glyph_bytes, 8, 8, framebuf.MONO_HLSB)

    def clear(self):
        d = self.display
        d.fill(BLACK)
        d.rect(DIGIT_X - 2, DIGIT_Y - 2, 28 * DIGIT_SCALE + 4, 28 * DIGIT_SCALE + 4, GREY)

    def big_text(self, text, x, y, scale, colour):
        """framebuf's 8x8 font, each pixel drawn as a scale x scale block."""
        d = self.display
        for c in text:
            self._glyph.fill(0)
            self._glyph.text(c, 0, 0, 1)
            for gy in range(8):
                for gx in range(8):
                    if self._glyph.pixel(gx, gy):
                        d.fill_rect(x + gx * scale, y + gy * scale, scale, scale, colour)
            x += 8 * scale

    def digit(self, digits, index):
        d = self.display
        d.fill_rect(DIGIT_X, DIGIT_Y, 28 * DIGIT_SCALE, 28 * DIGIT_SCALE, BLACK)
        for y in range(28):
            for x in range(28):
                if digits.pixel(index, x, y):
                    d.fill_rect(DIGIT_X + x * DIGIT_SCALE, DIGIT_Y + y * DIGIT_SCALE, DIGIT_SCALE, DIGIT_SCALE, WHITE)

    def grey_digit(self, image):
        """A 28x28 grey image (784 bytes, 255 = ink), e.g. a digit drawn by touch after centring."""
        d = self.display
        for y in range(28):
            for x in range(28):
                g = image[y * 28 + x]
                colour = rgb(g, g, g)
                d.fill_rect(DIGIT_X + x * DIGIT_SCALE, DIGIT_Y + y * DIGIT_SCALE, DIGIT_SCALE, DIGIT_SCALE, colour)

    def result(self, classifier, prediction, label=None):
        """The prediction, the score bars, and the true label when there is one."""
        d = self.display
        d.fill_rect(PANEL_X, 0, d.width - PANEL_X, STATS_Y, BLACK)
        d.text("It looks like the number: %d" % prediction, PANEL_X - 8, 8, WHITE)
        right = label is None or label == prediction
        self.big_text(str(prediction), PANEL_X, 24, 5, GREEN if right else RED)
        if label is not None:
            d.text("true label: %d" % label, PANEL_X + 56, 30, YELLOW)
            d.text("right" if right else "wrong", PANEL_X + 56, 46, GREEN if right else RED)
        for k in range(10):
            y = BAR_Y + k * BAR_STEP
            p = classifier.percent(k)
            d.text(str(k), PANEL_X, y + 1, YELLOW if k == label else WHITE)
            d.fill_rect(BAR_X, y, 1 + p * BAR_LENGTH // 100, 10, (GREEN if right else RED) if k == prediction else GREY)
            d.text("%d%%" % p, BAR_X + BAR_LENGTH + 6, y + 1, WHITE)

    def stats(self, correct, total, micros, model_source):
        d = self.display
        d.fill_rect(PANEL_X - 8, STATS_Y, d.width - PANEL_X + 8, MESSAGE_Y - STATS_Y, BLACK)
        if total:
            d.text("accuracy: %d/%d = %d%%" % (correct, total, 100 * correct // total), PANEL_X - 8, STATS_Y, WHITE)
        d.text("inference: %d us" % micros, PANEL_X - 8, STATS_Y + 12, WHITE)
        d.text("model: " + model_source[-20:], PANEL_X - 8, STATS_Y + 24, GREY)

    def message(self, text, colour=YELLOW):
        d = self.display
        d.fill_rect(0, MESSAGE_Y, d.width, d.height - MESSAGE_Y, BLACK)
        per_line = d.width // 8
        d.text(text[:per_line], 0, MESSAGE_Y + 1, colour)
        d.text(text[per_line : 2 * per_line], 0, MESSAGE_Y + 11, colour)
