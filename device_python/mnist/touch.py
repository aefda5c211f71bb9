# Drawing a digit with a finger on the DISCO's touch panel (FocalTech FT5336 on I2C3: PH7 SCL, PH8 SDA), as ST's
# board support package drives it (ft5336.c, stm32746g_discovery_ts.c). The chip answers at I2C address 0x38,
# on a bus run at 100 kHz as the BSP runs it: TD_STATUS (0x02) holds the number of touches in its low nibble
# (more than 5 means none), then touch 1 is P1_XH, P1_XL, P1_YH, P1_YL (0x03-0x06), 12-bit coordinates whose top
# 4 bits sit in the low nibble of the H registers, the event (put down, lift up, contact) in P1_XH's top two bits.
# On this board the panel's X runs along the screen's Y and the other way round (the BSP's TS_SWAP_XY), and
# coordinates are already in pixels. We poll: G_MODE (0xA4) is set to polling, as the BSP's start does; the
# chip's INT line (PI13) is not used. The chip answers only some time after power-up or reset (Trsi, 200 ms, which
# the BSP's ft5336_Init waits out), so a first read that fails is tried again for a while before giving up.

import framebuf
import time
from micropython import const

from .centre import centre
from .screen import DIGIT_SCALE, DIGIT_X, DIGIT_Y, WHITE, Screen

ADDRESS = const(0x38)
TD_STATUS = const(0x02)
G_MODE = const(0xA4)
G_MODE_POLLING = const(0x00)
CHIP_ID = const(0xA8)
FT5336_ID = const(0x51)
MAX_TOUCHES = const(5)
EVENT_LIFT_UP = const(1)
I2C_HZ = const(100_000)
STARTUP_MS = const(300)  # the FT5336's 200 ms start-up time, and a margin

_CANVAS = const(112)  # the stroke is kept at half the 224x224 screen box
_PEN = const(12)  # canvas pixels: ink about as thick, relative to the digit, as MNIST's
_POLL_MS = const(10)
_LIFT_MS = const(800)  # a finger lifted this long ends the digit


class FT5336:
    def __init__(self, i2c):
        self.i2c = i2c
        self._regs = bytearray(5)
        self.x = self.y = 0
        chip = self._chip_id()
        if chip is None:
            raise OSError("no touch controller answers at I2C address 0x38 (the DISCO's I2C3, PH7/PH8)")
        if chip != FT5336_ID:
            raise OSError("touch controller at 0x38 has id 0x%02x, expected FT5336 (0x51)" % chip)
        i2c.writeto_mem(ADDRESS, G_MODE, bytes((G_MODE_POLLING,)))

    def _chip_id(self):
        """The chip id register, read again until it is the FT5336's or STARTUP_MS have passed (None: no answer)."""
        start = time.ticks_ms()
        while True:
            try:
                chip = self.i2c.readfrom_mem(ADDRESS, CHIP_ID, 1)[0]
            except OSError:
                chip = None
            if chip == FT5336_ID or time.ticks_diff(time.ticks_ms(), start) >= STARTUP_MS:
                return chip
            time.sleep_ms(_POLL_MS)

    def touched(self):
        """True while a finger is on the panel; its screen position is then in self.x, self.y."""
        r = self._regs
        self.i2c.readfrom_mem_into(ADDRESS, TD_STATUS, r)
        n = r[0] & 0x0F
        if n == 0 or n > MAX_TOUCHES or r[1] >> 6 == EVENT_LIFT_UP:
            return False
        self.y = (r[1] & 0x0F) << 8 | r[2]
        self.x = (r[3] & 0x0F) << 8 | r[4]
        return True


class Canvas:
    """The stroke, drawn both into a small MONO image (for the model) and onto the screen (for the person)."""

    def __init__(self, screen):
        self.screen = screen
        self.bits = bytearray(_CANVAS * _CANVAS // 8)
        self.image = framebuf.FrameBuffer(self.bits, _CANVAS, _CANVAS, framebuf.MONO_HLSB)
        self.size = _CANVAS

    def clear(self):
        self.image.fill(0)
        self.screen.display.fill_rect(DIGIT_X, DIGIT_Y, 28 * DIGIT_SCALE, 28 * DIGIT_SCALE, 0)

    def inside(self, x, y):
        return DIGIT_X <= x < DIGIT_X + 2 * _CANVAS and DIGIT_Y <= y < DIGIT_Y + 2 * _CANVAS

    def line(self, x0, y0, x1, y1):
        """A pen stroke between two screen points inside the box."""
        x0, y0, x1, y1 = (x0 - DIGIT_X) // 2, (y0 - DIGIT_Y) // 2, (x1 - DIGIT_X) // 2, (y1 - DIGIT_Y) // 2
        steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        d = self.screen.display
        for i in range(steps + 1):
            x = x0 + (x1 - x0) * i // steps - _PEN // 2
            y = y0 + (y1 - y0) * i // steps - _PEN // 2
            self.image.fill_rect(x, y, _PEN, _PEN, 1)
            d.fill_rect(DIGIT_X + 2 * x, DIGIT_Y + 2 * y, 2 * _PEN, 2 * _PEN, WHITE)


def read_stroke(panel, canvas, display):
    """Wait for a finger in the box and follow it (strokes may be several) until it has been lifted a while."""
    last = None
    lifted = time.ticks_ms()
    drawn = False
    while not drawn or time.ticks_diff(time.ticks_ms(), lifted) < _LIFT_MS:
        if panel.touched() and canvas.inside(panel.x, panel.y):
            x, y = panel.x, panel.y
            canvas.line(*(last or (x, y)), x, y)
            display.show()  # the person sees the ink as it goes down
            last = (x, y)
            drawn = True
            lifted = time.ticks_ms()
        else:
            last = None
        time.sleep_ms(_POLL_MS)


def open_panel(i2c=None):
    """The touch source, anything with touched(), x and y: the emulated board's panel (written by the host's
    viewer), else the DISCO's FT5336 on `i2c` (default: the board's I2C3, PH7/PH8)."""
    if i2c is None:
        try:
            import emulator  # frozen only into the emulator firmware
        except ImportError:
            from machine import I2C

            i2c = I2C(3, freq=I2C_HZ)  # the board's I2C3: PH7/PH8
        else:
            from machine import mem32
            from .emulated_touch import Panel

            return Panel(mem32, emulator.TOUCH_ADDRESS)
    return FT5336(i2c)


def draw(classifier, rounds=None, display=None, i2c=None):
    """Read digits drawn on the panel, `rounds` times or until Ctrl-C. Returns the predictions."""
    if display is None:
        import display as displays

        display = displays.open()
    panel = open_panel(i2c)
    screen = Screen(display)
    screen.clear()
    canvas = Canvas(screen)
    predictions = []
    try:
        while rounds is None or len(predictions) < rounds:
            canvas.clear()
            screen.message("Draw a digit in the box")
            display.show()
            read_stroke(panel, canvas, display)
            image = centre(canvas.image, canvas.size, canvas.size)
            classifier.decoder.grey(image)
            prediction = classifier.invoke()
            predictions.append(prediction)
            print("drawn digit: predicted %d score %d%% %d us"
                  % (prediction, classifier.percent(prediction), classifier.micros))
            screen.grey_digit(image)
            screen.result(classifier, prediction)
            screen.message("That was read as %d. Draw another one." % prediction)
            display.show()
            time.sleep_ms(1500)
    except KeyboardInterrupt:
        print("stopped")
    return predictions
