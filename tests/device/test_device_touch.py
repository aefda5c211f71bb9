"""Touch drawing on the unix port: the FT5336 driver against a model of the chip's I2C register contract
(tests/unix/fake_ft5336.py), and the pen and the MNIST-style centring of the stroke against the host's numpy copy
(drawn.py, which makes the drawn-digit test set)."""

import json

import numpy as np
import pytest

from mpy_mnist import drawn


pytestmark = pytest.mark.unix

# Screen strokes inside the 224x224 drawing box at (16, 16).
ONE = [[(130, y) for y in range(40, 220, 4)]]
SEVEN = [[(60 + x, 50) for x in range(0, 130, 4)] + [(190 - i, 50 + 2 * i) for i in range(0, 80, 3)]]
ZERO = [[(128 + int(60 * np.sin(t)), 128 - int(90 * np.cos(t))) for t in np.linspace(0, 2 * np.pi, 60)]]

STROKE = """
import json
from fake_ft5336 import I2C
from display.headless import Display
from mnist.screen import Screen
from mnist.touch import FT5336, Canvas, read_stroke
from mnist.centre import centre
screen = Screen(Display())
canvas = Canvas(screen)
canvas.clear()
bus = I2C({strokes!r}, lift_reads=10)
read_stroke(FT5336(bus), canvas, screen.display)
print(json.dumps(dict(canvas=list(canvas.bits), image=list(centre(canvas.image, canvas.size, canvas.size)))))
"""


@pytest.mark.parametrize("strokes,curved", [(ONE, False), (SEVEN, True), (ZERO, True)], ids=["one", "seven", "zero"])
def test_stroke_is_centred_like_mnist(mpy, strokes, curved):
    out = json.loads(mpy.output(STROKE.format(strokes=strokes)))
    canvas = np.unpackbits(np.array(out["canvas"], np.uint8)).reshape(112, 112)
    image = np.array(out["image"], np.uint8).reshape(28, 28)
    np.testing.assert_array_equal(image, drawn.centre(canvas))
    ys, xs = np.nonzero(image)
    assert max(ys.max() - ys.min(), xs.max() - xs.min()) + 1 == 20, "longer side is not 20 pixels"
    cy, cx = (np.indices(image.shape) * image).reshape(2, -1).sum(1) / image.sum()
    assert abs(cy - 13.5) <= 0.5 and abs(cx - 13.5) <= 0.5, "centre of mass is not in the middle"
    if curved:
        assert ((image > 0) & (image < 255)).any(), "no grey edges from area averaging"


PEN_STROKES = """
import json
from display.headless import Display
from mnist.screen import DIGIT_X, DIGIT_Y, Screen
from mnist.touch import Canvas
from mnist.centre import centre
canvas = Canvas(Screen(Display()))
canvas.clear()
for x0, y0, x1, y1 in {segments!r}:  # canvas pixels -> the screen points that land on them
    canvas.line(DIGIT_X + 2 * x0, DIGIT_Y + 2 * y0, DIGIT_X + 2 * x1, DIGIT_Y + 2 * y1)
print(json.dumps(dict(canvas=list(canvas.bits), image=list(centre(canvas.image, canvas.size, canvas.size)))))
"""


def ring_skeleton_segments():
    yy, xx = np.mgrid[:28, :28] - 13.5
    r2 = yy**2 + xx**2
    return drawn.skeleton_segments(drawn.skeleton((r2 <= 10**2) & (r2 >= 5**2)))


@pytest.mark.parametrize("segments", [
    pytest.param(ring_skeleton_segments(), id="ring-skeleton"),
    # long segments in every direction, uneven slopes, a dot, and the pen clipped at all four canvas edges
    pytest.param(np.array([[3, 100, 60, 2], [60, 2, 109, 50], [109, 50, 40, 111], [40, 111, 3, 100],
                           [20, 30, 97, 41], [55, 55, 55, 55], [0, 0, 0, 0], [111, 111, 111, 111]]), id="long-lines"),
])
def test_pen_strokes_are_drawn_and_centred_as_the_host_redraws_them(mpy, segments):
    out = json.loads(mpy.output(PEN_STROKES.format(segments=segments.tolist())))
    canvas = np.unpackbits(np.array(out["canvas"], np.uint8)).reshape(drawn.CANVAS, drawn.CANVAS).astype(bool)
    np.testing.assert_array_equal(canvas, drawn.draw(segments))
    np.testing.assert_array_equal(np.array(out["image"], np.uint8).reshape(28, 28), drawn.centre(canvas))


def test_stroke_lands_where_the_finger_was(mpy):
    out = json.loads(mpy.output(STROKE.format(strokes=ONE)))
    canvas = np.unpackbits(np.array(out["canvas"], np.uint8)).reshape(112, 112)
    ys, xs = np.nonzero(canvas)
    # The finger ran down x = 130 from y = 40 to 216: canvas (half scale, box at 16) x ~ 57, y ~ 12..100.
    assert abs(xs.mean() - (130 - 16) / 2) <= 1
    assert ys.min() <= (40 - 16) // 2 and ys.max() >= (216 - 16) // 2


def test_missing_touch_controller_is_an_error(mpy):
    script = """
from mnist.touch import FT5336
class Empty:
    def readfrom_mem(self, address, register, n):
        raise OSError(19)
try:
    FT5336(Empty())
except OSError as e:
    print("ERR", e)
class Other:
    def readfrom_mem(self, address, register, n):
        return b"\\x11"
try:
    FT5336(Other())
except OSError as e:
    print("ERR", e)
"""
    out = mpy.output(script)
    assert "ERR no touch controller answers at I2C address 0x38" in out
    assert "ERR touch controller at 0x38 has id 0x11, expected FT5336 (0x51)" in out


def test_a_controller_still_starting_up_is_waited_for(mpy):
    # Just after power-up (the app run from main.py) the FT5336 does not answer for 200 ms (Trsi): the driver waits
    # for it, as ST's BSP does, instead of reporting no controller.
    script = """
import time
from fake_ft5336 import I2C
from mnist.touch import FT5336
start = time.ticks_ms()
bus = I2C([], startup_ms=200)
try:
    FT5336(bus)
    print("OK", bus.regs[0xA4], time.ticks_diff(time.ticks_ms(), start) >= 200)
except OSError as e:
    print("ERR", e)
"""
    assert mpy.output(script).strip() == "OK 0 True"


def test_the_panel_is_polled_and_a_lifted_finger_is_no_touch(mpy):
    script = """
from fake_ft5336 import I2C
from mnist.touch import FT5336
bus = I2C([[(100, 50), (101, 52)]], lift_reads=2)
panel = FT5336(bus)
print("G_MODE", bus.regs[0xA4])
print([(panel.touched(), panel.x, panel.y) for _ in range(5)])
bus.frames = [((300, 200), 1)]  # a lift reported somewhere else: not a touch there
bus.reads = 0
print(panel.touched(), panel.x, panel.y)
"""
    out = mpy.output(script).splitlines()
    assert out[0] == "G_MODE 0", "the BSP's polling mode (0) not set"
    assert out[1] == "[(True, 100, 50), (True, 101, 52), (False, 101, 52), (False, 101, 52), (False, 101, 52)]"
    assert out[2] == "False 101 52"


def test_strokes_with_short_lifts_make_one_digit(mpy):
    plus = [[(128, y) for y in range(60, 200, 4)], [(x, 128) for x in range(60, 200, 4)]]
    out = json.loads(mpy.output(STROKE.format(strokes=plus)))
    canvas = np.unpackbits(np.array(out["canvas"], np.uint8)).reshape(112, 112)
    assert canvas[20:90, 56].all() and canvas[56, 20:90].all(), "both strokes of the + are on the canvas"
