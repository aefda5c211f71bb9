"""The displays: the DISCO LTDC driver against a register-level model of RM0385's LTDC/RCC/GPIO contract (the
driver runs on the unix port over a fake mem32 that logs every access), and the app's screen layout drawn on the
headless display."""

import json
import re
import shutil

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
from {package}.disco import Display
m = Mem32()
d = Display(m, m.barrier)
print("FRAMEBUFFER 0x%x" % d.address)
d.fill(0xFFFF)
print("SHOW")
d.show()
{after}
for address, value in sorted(m.regs.items()):
    print("F 0x%08x 0x%08x" % (address, value))
"""

RCC_AHB1ENR_LCD_PORTS = sum(1 << (ord(port) - 65) for port in "EGIJK")
SCB_CSSELR = 0xE000ED84


class Registers:
    """Replays the driver's access log: the order things happened in, the values written, the final state."""

    def __init__(self, log):
        self.accesses = []
        self.values = {}
        self.final = {}
        for line in log.splitlines():
            m = re.fullmatch(r"([RWF]) 0x([0-9a-f]+) 0x([0-9a-f]+)", line)
            if m and m[1] == "F":
                self.final[int(m[2], 16)] = int(m[3], 16)
            elif m:
                kind, address, value = m[1], int(m[2], 16), int(m[3], 16)
                self.accesses.append((kind, address, value))
                if kind == "W":
                    self.values[address] = value
            elif line in ("SHOW", "BARRIER", "DEINIT"):
                self.accesses.append((line, 0, 0))

    def first(self, predicate):
        return next(i for i, a in enumerate(self.accesses) if predicate(*a))

    def field(self, address, shift, bits):
        return self.values[address] >> shift & ((1 << bits) - 1)


def owned_bits(address):
    """The bits of a register this driver may change: its own pins' fields, its clocks, PLLSAI's N and R, the LCD
    clock divider, the LTDC, and the cache maintenance registers; nothing else on the board."""
    pins = {(port, pin) for port, pin, _ in BOARD_LTDC_PINS.values()}
    outputs = {("I", 12), ("K", 3)}  # LCD_DISP, LCD_BL_CTRL
    for port, base in GPIO.items():
        if base <= address < base + 0x400:
            offset, mask = address - base, 0
            for p, pin in pins | outputs:
                if p != port:
                    continue
                if offset in (0x00, 0x08, 0x0C):  # MODER, OSPEEDR, PUPDR: 2 bits a pin
                    mask |= 3 << 2 * pin
                elif offset == 0x04 or (offset == 0x14 and (p, pin) in outputs):  # OTYPER; ODR of the outputs
                    mask |= 1 << pin
                elif offset == 0x20 + 4 * (pin >> 3) and (p, pin) in pins:  # AFRL/AFRH: 4 bits a pin
                    mask |= 0xF << 4 * (pin & 7)
            return mask
    owned = {RCC_CR: 1 << 28, RCC_AHB1ENR: RCC_AHB1ENR_LCD_PORTS, RCC_APB2ENR: 1 << 26,
             RCC_PLLSAICFGR: 0x1FF << 6 | 7 << 28, RCC_DCKCFGR1: 3 << 16, SCB_CSSELR: 0xFFFFFFFF,
             SCB_DCCSW: 0xFFFFFFFF}  # the last two: cache selection and a write-only maintenance operation
    if LTDC <= address < LTDC_END:
        return 0xFFFFFFFF
    return owned.get(address, 0)


def clobbered(regs):
    """Every register whose bits the driver does not own changed between the board's boot state and the end."""
    from unix.fake_stm32 import RCC_CR as CR, boot_state

    start = boot_state()
    problems = []
    for address in sorted(set(start) | set(regs.final)):
        before, after = start.get(address, 0), regs.final.get(address, 0)
        if address == CR:  # PLLSAIRDY is the hardware's answer to PLLSAION
            before, after = before & ~(1 << 29), after & ~(1 << 29)
        changed = (before ^ after) & ~owned_bits(address)
        if changed:
            problems.append(f"0x{address:08x}: 0x{before:08x} -> 0x{after:08x} (bits 0x{changed:08x} not the driver's)")
    return problems


def cache_cleaning_problems(regs):
    """show() against CMSIS's SCB_CleanDCache: select the L1 D-cache, barrier, read its geometry, clean every set
    and way, barrier."""
    show = regs.first(lambda k, a, v: k == "SHOW")
    after = regs.accesses[show:]
    problems = []
    cleaned = {v for k, a, v in after if k == "W" and a == SCB_DCCSW}
    if cleaned != {way << 30 | s << 5 for way in range(4) for s in range(32)}:
        problems.append(f"{len(cleaned)} set/way cleans, not the D-cache's 4 ways x 32 sets")
    kinds = [(k, a) for k, a, v in after]
    selected = kinds.index(("W", SCB_CSSELR)) if ("W", SCB_CSSELR) in kinds else None
    read = kinds.index(("R", 0xE000ED80))
    if selected is None or ("BARRIER", 0) not in kinds[selected:read]:
        problems.append("CCSIDR read without selecting the D-cache and a barrier first")
    last_clean = max((i for i, (k, a) in enumerate(kinds) if a == SCB_DCCSW), default=None)
    if last_clean is not None and ("BARRIER", 0) not in kinds[last_clean:]:
        problems.append("no barrier after the last clean")
    return problems


@pytest.fixture
def disco(mpy):
    out = mpy.output(START_DISCO.format(package="display", after=""))
    return Registers(out), int(re.search(r"FRAMEBUFFER 0x([0-9a-f]+)", out)[1], 16)


def test_clocks_are_on_before_their_peripherals_are_touched(disco):
    regs, _ = disco
    for port, base in GPIO.items():
        touched = [i for i, (k, a, _) in enumerate(regs.accesses) if base <= a < base + 0x400]
        if touched and not regs.final.get(RCC_AHB1ENR, 0) >> (ord(port) - 65) & 1:
            pytest.fail(f"GPIO{port} used without its clock")
        if touched and port in "J":  # off after boot: the driver must turn it on first
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


def test_nothing_the_driver_does_not_own_changes(disco):
    # From the board's state after MicroPython's boot (tests/unix/fake_stm32.py): the SDRAM's pins on PE/PG/PH,
    # USART1, I2C3, USB, the other clocks and PLLSAI's P and Q fields are exactly as they were.
    regs, _ = disco
    assert clobbered(regs) == []


def test_pixel_clock_is_the_panels(disco):
    regs, _ = disco
    pllm = regs.final[RCC_PLLCFGR] & 0x3F
    vco_in = 25_000_000 / pllm  # HSE 25 MHz on the DISCO
    n = regs.field(RCC_PLLSAICFGR, 6, 9)
    r = regs.field(RCC_PLLSAICFGR, 28, 3)
    divr = (2, 4, 8, 16)[regs.field(RCC_DCKCFGR1, 16, 2)]
    assert 100e6 <= vco_in * n <= 432e6 and 2 <= r <= 7
    assert vco_in * n / r / divr == pytest.approx(9.6e6, rel=0.01)
    # ST's BSP: N 192, R 5, DIVR /4 from a 1 MHz VCO input.
    assert (n, r, divr) == (192, 5, 4)


def test_every_lcd_pin_is_in_its_alternate_function(disco):
    regs, _ = disco
    final = regs.final
    for signal, (port, pin, af) in BOARD_LTDC_PINS.items():
        base = GPIO[port]
        assert final[base] >> 2 * pin & 3 == 2, f"LCD_{signal} P{port}{pin} not in alternate-function mode"
        afr = final[base + 0x20 + 4 * (pin >> 3)]
        assert afr >> 4 * (pin & 7) & 0xF == af, f"LCD_{signal} P{port}{pin} not AF{af}"
        assert not final.get(base + 0x04, 0) >> pin & 1, f"LCD_{signal} not push-pull"
        assert final[base + 0x08] >> 2 * pin & 3 == 2, f"LCD_{signal} not at high speed (ST's GPIO_SPEED_FAST)"
        assert final.get(base + 0x0C, 0) >> 2 * pin & 3 == 0, f"LCD_{signal} has a pull"
    for name, port, pin in (("LCD_DISP", "I", 12), ("LCD_BL_CTRL", "K", 3)):
        base = GPIO[port]
        assert final[base] >> 2 * pin & 3 == 1, f"{name} not an output"
        assert final.get(base + 0x0C, 0) >> 2 * pin & 3 == 0, f"{name} has a pull"
        assert final[base + 0x14] >> pin & 1, f"{name} not driven high"
        sets = [v for k, a, v in regs.accesses if k == "W" and a == base + 0x18]
        assert sets[-1] == 1 << pin, f"{name} not driven high last"


def test_timings_layer_and_enable(disco):
    regs, framebuffer = disco
    v = regs.final
    hsw, hbp, hfp = H["sync"], H["back"], H["front"]
    vsw, vbp, vfp = V["sync"], V["back"], V["front"]
    assert v[LTDC + 0x08] == (hsw - 1) << 16 | (vsw - 1)
    assert v[LTDC + 0x0C] == (hsw + hbp - 1) << 16 | (vsw + vbp - 1)
    assert v[LTDC + 0x10] == (hsw + hbp + 480 - 1) << 16 | (vsw + vbp + 272 - 1)
    assert v[LTDC + 0x14] == (hsw + hbp + 480 + hfp - 1) << 16 | (vsw + vbp + 272 + vfp - 1)
    assert v[LTDC + 0x18] & 0xF0000001 == 1, "GCR: controller on, HSYNC/VSYNC/DE active low, clock not inverted"
    assert v[LTDC + 0x2C] == 0, "black background"
    assert v[LTDC + 0x88] == (hsw + hbp + 480 - 1) << 16 | (hsw + hbp), "layer 1 horizontal window"
    assert v[LTDC + 0x8C] == (vsw + vbp + 272 - 1) << 16 | (vsw + vbp), "layer 1 vertical window"
    assert v[LTDC + 0x94] == 2, "layer 1 pixel format RGB565"
    assert v[LTDC + 0x98] == 255, "constant alpha 255"
    assert v[LTDC + 0x9C] == 0, "default colour 0"
    assert v[LTDC + 0xA0] == 0x0607, "blending PAxCA / 1-PAxCA, as ST's BSP"
    assert v[LTDC + 0xAC] == framebuffer & 0xFFFFFFFF, "CFBAR is the frame buffer"
    assert v[LTDC + 0xB0] == 960 << 16 | 963, "CFBLR: pitch 960 bytes, line length 960 + 3"
    assert v[LTDC + 0xB4] == 272
    assert v[LTDC + 0x84] & 1, "layer 1 on"
    assert v.get(LTDC + 0x34, 0) == 0, "no LTDC interrupt enabled (MicroPython has no handler for it)"
    # The F7 HAL's order: LTDCEN, then the layer, then the reload, which a controller that is off would not do.
    enabled = regs.first(lambda k, a, val: k == "W" and a == LTDC + 0x18 and val & 1)
    layer_writes = [i for i, (k, a, _) in enumerate(regs.accesses) if k == "W" and LTDC + 0x84 <= a < LTDC + 0x104]
    reloads = [i for i, (k, a, val) in enumerate(regs.accesses) if k == "W" and a == LTDC + 0x24 and val & 1]
    assert reloads and min(layer_writes) > enabled and reloads[-1] > max(layer_writes), \
        "layer not loaded and reloaded after the controller was enabled"


def test_show_cleans_the_whole_data_cache_between_barriers(disco):
    regs, _ = disco
    assert cache_cleaning_problems(regs) == []


def test_deinit_switches_the_layer_off_and_reloads(mpy):
    out = mpy.output(START_DISCO.format(package="display", after='print("DEINIT")\nd.deinit()'))
    regs = Registers(out)
    deinit = regs.first(lambda k, a, v: k == "DEINIT")
    assert not regs.final[LTDC + 0x84] & 1, "layer 1 still on"
    off = regs.first(lambda k, a, v: k == "W" and a == LTDC + 0x84 and not v & 1)
    reload = max(i for i, (k, a, v) in enumerate(regs.accesses) if k == "W" and a == LTDC + 0x24 and v & 1)
    assert deinit < off < reload
    assert clobbered(regs) == []


# Drivers with the bugs the model must catch: each is the real driver with one change.
MUTANTS = {
    "zeroes other pins' MODER and AFR": [
        ("self._modify(base + MODER, 3 << 2 * pin, 2 << 2 * pin)", "self._mem[base + MODER] = 2 << 2 * pin"),
        ("self._modify(afr, 0xF << 4 * (pin & 7), af << 4 * (pin & 7))", "self._mem[afr] = af << 4 * (pin & 7)")],
    "writes RCC_APB2ENR = LTDCEN": [
        ("self._modify(RCC_APB2ENR, 0, APB2ENR_LTDCEN)", "m[RCC_APB2ENR] = APB2ENR_LTDCEN")],
    "drops the CSSELR write": [("m[SCB_CSSELR] = 0  # level 1 data cache", "pass")],
    "reads NumSets without its mask (CCSIDR's top bits are the cache's policies)": [
        ("sets = (ccsidr >> 13 & 0x7FFF) + 1", "sets = (ccsidr >> 13) + 1")],
}


@pytest.mark.parametrize("bug", MUTANTS)
def test_the_model_catches_a_driver_that(mpy, bug):
    package = mpy.workdir / "mutant"
    shutil.copytree(paths.DEVICE_PYTHON_DIR / "display", package)
    source = (package / "disco.py").read_text()
    for old, new in MUTANTS[bug]:
        assert old in source
        source = source.replace(old, new)
    (package / "disco.py").write_text(source)
    regs = Registers(mpy.output(START_DISCO.format(package="mutant", after="")))
    assert clobbered(regs) or cache_cleaning_problems(regs)


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


@pytest.mark.emulator
def test_the_cache_barrier_compiles_and_runs_on_a_cortex_m7(emulator_firmware):
    # show()'s DSB/ISB go through the inline assembler, compiled at run time: on the emulated Cortex-M7 (the same
    # Thumb-2 encodings the STM32F746 runs), with the display package as the firmware freezes it.
    from mpy_mnist import board, emulator

    code = ("from display.disco import _data_and_instruction_barrier\n"
            "barrier = _data_and_instruction_barrier()\nprint('barrier', barrier(), barrier())\n")
    with emulator.start(emulator_firmware) as emu, board.connected(emu.port) as transport:
        assert transport.exec(code).split() == [b"barrier", b"0", b"0"]


def test_the_boot_state_has_the_boards_own_pins():
    # The model's SDRAM, REPL and I2C3 pins are STM32F7DISC's, read from MicroPython's own board header.
    from mpy_mnist import firmware
    from unix.fake_stm32 import BOOT_PINS, SDRAM_PINS

    header = (firmware.source_dir() / "ports" / "stm32" / "boards" / "STM32F7DISC" / "mpconfigboard.h").read_text()
    pins = dict(re.findall(r"#define MICROPY_HW_(\w+)\s+\(pin_([A-K]\d+)\)", header))
    fmc = {pin for name, pin in pins.items() if name.startswith("FMC_")}
    assert {f"{port}{pin}" for port, numbers in SDRAM_PINS for pin in numbers} == fmc
    modelled = {f"{port}{pin}" for port, pin, *_ in BOOT_PINS}
    for name in ("UART1_TX", "UART1_RX", "I2C3_SCL", "I2C3_SDA", "LED1", "USRSW_PIN", "USB_OTG_ID_PIN"):
        assert pins[name] in modelled, name
