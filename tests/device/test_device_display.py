"""The displays: the DISCO LTDC driver against a register-level model of RM0385's LTDC/RCC/GPIO contract (the
driver runs on the unix port over a fake mem32 that logs every access), and the app's screen layout drawn on the
headless display."""

import json
import re

import numpy as np
import pytest

from mpy_mnist import bitmaps, paths

from device_support import check_screen, random_digits, screen_pixels, write_digit_modules

pytestmark = pytest.mark.unix

RCC = 0x40023800
RCC_CR, RCC_PLLCFGR, RCC_AHB1ENR, RCC_APB2ENR = RCC + 0x00, RCC + 0x04, RCC + 0x30, RCC + 0x44
RCC_PLLSAICFGR, RCC_DCKCFGR1 = RCC + 0x88, RCC + 0x8C
LTDC = 0x40016800
LTDC_END = LTDC + 0x400
GPIO = {chr(ord("A") + i): 0x40020000 + 0x400 * i for i in range(11)}
SCB_DCCSW = 0xE000EF6C

# The DISCO's LCD wiring (UM1907 / board schematic): signal -> (port, pin, alternate function).
BOARD_LTDC_PINS = {
    "R0": ("I", 15, 14), "R1": ("J", 0, 14), "R2": ("J", 1, 14), "R3": ("J", 2, 14), "R4": ("J", 3, 14),
    "R5": ("J", 4, 14), "R6": ("J", 5, 14), "R7": ("J", 6, 14),
    "G0": ("J", 7, 14), "G1": ("J", 8, 14), "G2": ("J", 9, 14), "G3": ("J", 10, 14), "G4": ("J", 11, 14),
    "G5": ("K", 0, 14), "G6": ("K", 1, 14), "G7": ("K", 2, 14),
    "B0": ("E", 4, 14), "B1": ("J", 13, 14), "B2": ("J", 14, 14), "B3": ("J", 15, 14), "B4": ("G", 12, 9),
    "B5": ("K", 4, 14), "B6": ("K", 5, 14), "B7": ("K", 6, 14),
    "HSYNC": ("I", 10, 14), "VSYNC": ("I", 9, 14), "CLK": ("I", 14, 14), "DE": ("K", 7, 14),
}
# RK043FN48H timings: sync width, back porch, active, front porch.
H = dict(sync=41, back=13, active=480, front=32)
V = dict(sync=10, back=2, active=272, front=2)

START_DISCO = """
from fake_stm32 import Mem32
from display.disco import Display
d = Display(Mem32())
print("FRAMEBUFFER 0x%x" % d.address)
d.fill(0xFFFF)
print("SHOW")
d.show()
"""


class Registers:
    """Replays the driver's access log: final register values and the order things happened in."""

    def __init__(self, log):
        self.accesses = []
        self.values = {}
        for line in log.splitlines():
            m = re.fullmatch(r"([RW]) 0x([0-9a-f]+) 0x([0-9a-f]+)", line)
            if m:
                kind, address, value = m[1], int(m[2], 16), int(m[3], 16)
                self.accesses.append((kind, address, value))
                if kind == "W":
                    self.values[address] = value
            elif line == "SHOW":
                self.accesses.append(("SHOW", 0, 0))

    def first(self, predicate):
        return next(i for i, a in enumerate(self.accesses) if predicate(*a))

    def field(self, address, shift, bits):
        return self.values[address] >> shift & ((1 << bits) - 1)


@pytest.fixture
def disco(mpy):
    out = mpy.output(START_DISCO)
    return Registers(out), int(re.search(r"FRAMEBUFFER 0x([0-9a-f]+)", out)[1], 16)


def test_clocks_are_on_before_their_peripherals_are_touched(disco):
    regs, _ = disco
    for port, base in GPIO.items():
        touched = [i for i, (k, a, _) in enumerate(regs.accesses) if base <= a < base + 0x400]
        if touched:
            enabled = regs.first(lambda k, a, v: k == "W" and a == RCC_AHB1ENR and v >> (ord(port) - 65) & 1)
            assert enabled < touched[0], f"GPIO{port} used before its clock is on"
    ltdc = regs.first(lambda k, a, v: LTDC <= a < LTDC_END)
    assert regs.first(lambda k, a, v: k == "W" and a == RCC_APB2ENR and v >> 26 & 1) < ltdc, "LTDC before LTDCEN"
    locked = regs.first(lambda k, a, v: k == "R" and a == RCC_CR and v >> 29 & 1)
    enable = regs.first(lambda k, a, v: k == "W" and a == LTDC + 0x18 and v & 1)
    assert locked < enable, "LTDC enabled before PLLSAI (its pixel clock) locked"
    configured = regs.first(lambda k, a, v: k == "W" and a == RCC_PLLSAICFGR)
    switched_off = max(i for i, (k, a, v) in enumerate(regs.accesses[:configured]) if k == "W" and a == RCC_CR)
    assert not regs.accesses[switched_off][2] >> 28 & 1, "PLLSAI reconfigured while running"


def test_pixel_clock_is_the_panels(disco):
    regs, _ = disco
    pllm = regs.values.get(RCC_PLLCFGR, 1 << 22 | 25) & 0x3F
    vco_in = 25_000_000 / pllm  # HSE 25 MHz on the DISCO
    n = regs.field(RCC_PLLSAICFGR, 6, 9)
    r = regs.field(RCC_PLLSAICFGR, 28, 3)
    divr = (2, 4, 8, 16)[regs.field(RCC_DCKCFGR1, 16, 2)]
    assert 100e6 <= vco_in * n <= 432e6 and 2 <= r <= 7
    assert vco_in * n / r / divr == pytest.approx(9.6e6, rel=0.01)


def test_every_lcd_pin_is_in_its_alternate_function(disco):
    regs, _ = disco
    for signal, (port, pin, af) in BOARD_LTDC_PINS.items():
        base = GPIO[port]
        assert regs.values[base] >> 2 * pin & 3 == 2, f"LCD_{signal} P{port}{pin} not in alternate-function mode"
        afr = regs.values[base + 0x20 + 4 * (pin >> 3)]
        assert afr >> 4 * (pin & 7) & 0xF == af, f"LCD_{signal} P{port}{pin} not AF{af}"
        assert not regs.values.get(base + 0x04, 0) >> pin & 1, f"LCD_{signal} not push-pull"
    for name, port, pin in (("LCD_DISP", "I", 12), ("LCD_BL_CTRL", "K", 3)):
        assert regs.values[GPIO[port]] >> 2 * pin & 3 == 1, f"{name} not an output"
        sets = [v for k, a, v in regs.accesses if k == "W" and a == GPIO[port] + 0x18]
        assert sets[-1] == 1 << pin, f"{name} not driven high last"
    # Nothing else on those ports was moved (the SDRAM, I2C3 and USB pins share them).
    lcd = {(p, n) for p, n, _ in BOARD_LTDC_PINS.values()} | {("I", 12), ("K", 3)}
    for port, base in GPIO.items():
        moder = regs.values.get(base, 0)
        for pin in range(16):
            if (port, pin) not in lcd:
                assert moder >> 2 * pin & 3 == 0, f"P{port}{pin} changed"


def test_timings_layer_and_enable(disco):
    regs, framebuffer = disco
    v = regs.values
    hsw, hbp, hfp = H["sync"], H["back"], H["front"]
    vsw, vbp, vfp = V["sync"], V["back"], V["front"]
    assert v[LTDC + 0x08] == (hsw - 1) << 16 | (vsw - 1)
    assert v[LTDC + 0x0C] == (hsw + hbp - 1) << 16 | (vsw + vbp - 1)
    assert v[LTDC + 0x10] == (hsw + hbp + 480 - 1) << 16 | (vsw + vbp + 272 - 1)
    assert v[LTDC + 0x14] == (hsw + hbp + 480 + hfp - 1) << 16 | (vsw + vbp + 272 + vfp - 1)
    assert v[LTDC + 0x18] & 0xF0000001 == 1, "GCR: controller on, HSYNC/VSYNC/DE active low, clock not inverted"
    assert v[LTDC + 0x88] == (hsw + hbp + 480 - 1) << 16 | (hsw + hbp), "layer 1 horizontal window"
    assert v[LTDC + 0x8C] == (vsw + vbp + 272 - 1) << 16 | (vsw + vbp), "layer 1 vertical window"
    assert v[LTDC + 0x94] == 2, "layer 1 pixel format RGB565"
    assert v[LTDC + 0xAC] == framebuffer & 0xFFFFFFFF, "CFBAR is the frame buffer"
    assert v[LTDC + 0xB0] == 960 << 16 | 963, "CFBLR: pitch 960 bytes, line length 960 + 3"
    assert v[LTDC + 0xB4] == 272
    assert v[LTDC + 0x98] == 255 and v[LTDC + 0x84] & 1, "layer 1 opaque and on"
    reload = regs.first(lambda k, a, val: k == "W" and a == LTDC + 0x24 and val & 1)
    layer_writes = [i for i, (k, a, _) in enumerate(regs.accesses) if k == "W" and LTDC + 0x84 <= a < LTDC + 0x104]
    last_layer_write = max(layer_writes)
    assert reload > last_layer_write, "shadow registers reloaded before the layer was set up"


def test_show_cleans_the_whole_data_cache(disco):
    regs, _ = disco
    show = regs.first(lambda k, a, v: k == "SHOW")
    cleaned = {v for k, a, v in regs.accesses[show:] if k == "W" and a == SCB_DCCSW}
    assert cleaned == {way << 30 | s << 5 for way in range(4) for s in range(32)}


DRAW_SCREEN = """
import json, sys
from display.headless import Display
from mnist import files, screen
class Scores:  # what the screen asks of a classifier: a percent per class
    def percent(self, k):
        return (k * 37) % 101
d = Display()
s = screen.Screen(d)
s.clear()
digits = files.load_digits()
s.digit(digits, {index})
s.result(Scores(), 3, digits.labels[{index}])
s.stats(9, 10, 12345, "frozen mnist_model")
print(json.dumps(dict(x=screen.DIGIT_X, y=screen.DIGIT_Y, scale=screen.DIGIT_SCALE, panel=screen.PANEL_X)))
sys.stdout.buffer.write(d.buffer)
"""


@pytest.mark.parametrize("index", [0, 5])
def test_screen_draws_the_digit_and_the_results(mpy, micropython, index):
    labels, images = random_digits(6, seed=9)
    write_digit_modules(mpy.workdir, labels, images)
    import subprocess

    proc = subprocess.run(
        [str(micropython), "-c", DRAW_SCREEN.format(index=index)],
        cwd=mpy.workdir, env=mpy.env(), capture_output=True, timeout=60, check=True,
    )
    header, _, frame = proc.stdout.partition(b"\n")
    layout = json.loads(header)
    bits = bitmaps.unpack(bitmaps.pack(images[index]))[0]
    check_screen(screen_pixels(frame), bits, layout)
