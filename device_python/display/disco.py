# The STM32F746G-DISCO's 4.3" RK043FN48H panel (480x272, parallel RGB) driven by the LTDC, in MicroPython.
# Register addresses and bits: RM0385 (STM32F75x/74x reference manual); pins: UM1907 (the DISCO user manual) and
# the board schematic; panel timings and every register value: as ST's board support package sets them
# (stm32746g_discovery_lcd.c, rk043fn48h.h, the F7 HAL's LTDC driver), in the HAL's order: the controller is
# enabled first, then layer 1 is loaded and its shadow registers reloaded. Only the bits this driver owns are
# written; the SDRAM, USART1 (the REPL), I2C3 and USB pins share these ports and clocks.
# The frame buffer is an ordinary bytearray: MicroPython's stm32 port puts this board's heap in the SDRAM
# (0xC0000000), so the LTDC reads it from there. The D-cache is write-back over the SDRAM, so show() cleans it.
# A soft reset frees the heap: the mpy-mnist firmware switches the layer off then (MNIST_F746DISCO's
# mnist_soft_reset.c), and deinit() does the same.

import framebuf
import uctypes
from micropython import const

from . import HEIGHT, WIDTH

# Panel timings (pixels / lines).
HSYNC = const(41)
HBP = const(13)
HFP = const(32)
VSYNC = const(10)
VBP = const(2)
VFP = const(2)
PIXEL_CLOCK_HZ = const(9_600_000)
HSE_HZ = const(25_000_000)  # the DISCO's crystal
HSI_HZ = const(16_000_000)

# RCC
RCC = const(0x40023800)
RCC_CR = const(RCC + 0x00)
RCC_PLLCFGR = const(RCC + 0x04)
RCC_AHB1ENR = const(RCC + 0x30)
RCC_APB2ENR = const(RCC + 0x44)
RCC_PLLSAICFGR = const(RCC + 0x88)
RCC_DCKCFGR1 = const(RCC + 0x8C)
CR_PLLSAION = const(1 << 28)
CR_PLLSAIRDY = const(1 << 29)
APB2ENR_LTDCEN = const(1 << 26)

# GPIO ports A..K, 0x400 apart; register offsets.
GPIOA = const(0x40020000)
MODER = const(0x00)
OTYPER = const(0x04)
OSPEEDR = const(0x08)
PUPDR = const(0x0C)
BSRR = const(0x18)
AFRL = const(0x20)

# LTDC and its layer 1.
LTDC = const(0x40016800)
LTDC_SSCR = const(LTDC + 0x08)
LTDC_BPCR = const(LTDC + 0x0C)
LTDC_AWCR = const(LTDC + 0x10)
LTDC_TWCR = const(LTDC + 0x14)
LTDC_GCR = const(LTDC + 0x18)
GCR_POLARITIES = const(0xF << 28)  # HSPOL, VSPOL, DEPOL, PCPOL: all 0 (active low, clock not inverted)
LTDC_SRCR = const(LTDC + 0x24)
LTDC_BCCR = const(LTDC + 0x2C)
L1CR = const(LTDC + 0x84)
L1WHPCR = const(LTDC + 0x88)
L1WVPCR = const(LTDC + 0x8C)
L1PFCR = const(LTDC + 0x94)
L1CACR = const(LTDC + 0x98)
L1DCCR = const(LTDC + 0x9C)
L1BFCR = const(LTDC + 0xA0)
L1CFBAR = const(LTDC + 0xAC)
L1CFBLR = const(LTDC + 0xB0)
L1CFBLNR = const(LTDC + 0xB4)
GCR_LTDCEN = const(1)
SRCR_IMR = const(1)
L1CR_LEN = const(1)
PF_RGB565 = const(2)
# BF1 = pixel alpha x constant alpha, BF2 = 1 - that (ST's BSP: LTDC_BLENDING_FACTOR1_PAxCA | FACTOR2_PAxCA). RGB565
# has no alpha of its own (pixel alpha 255), so with CACR 255 the layer is opaque.
BF_PIXEL_TIMES_CONSTANT_ALPHA = const(0x0607)

# Cortex-M7 system control block: cache geometry and D-cache clean by set/way.
SCB_CCSIDR = const(0xE000ED80)
SCB_CSSELR = const(0xE000ED84)
SCB_DCCSW = const(0xE000EF6C)

# LTDC pins: (port letter, pin, alternate function). All AF14 but PG12 (LCD_B4), which is AF9 on this board.
LTDC_PINS = (
    ("E", 4, 14),  # B0
    ("G", 12, 9),  # B4
    ("I", 9, 14), ("I", 10, 14), ("I", 14, 14), ("I", 15, 14),  # VSYNC, HSYNC, CLK, R0
    ("J", 0, 14), ("J", 1, 14), ("J", 2, 14), ("J", 3, 14), ("J", 4, 14), ("J", 5, 14),  # R1-R6
    ("J", 6, 14), ("J", 7, 14), ("J", 8, 14), ("J", 9, 14), ("J", 10, 14), ("J", 11, 14),  # R7, G0-G4
    ("J", 13, 14), ("J", 14, 14), ("J", 15, 14),  # B1-B3
    ("K", 0, 14), ("K", 1, 14), ("K", 2, 14),  # G5-G7
    ("K", 4, 14), ("K", 5, 14), ("K", 6, 14), ("K", 7, 14),  # B5-B7, DE
)
LCD_DISP = ("I", 12)  # display enable, active high
LCD_BL_CTRL = ("K", 3)  # backlight, active high


def _port(letter):
    return GPIOA + 0x400 * (ord(letter) - ord("A"))


def pllsai_settings(vco_in_hz, target_hz=PIXEL_CLOCK_HZ):
    """(N, R, DIVR field, resulting Hz) closest to target_hz: VCO = in*N in 100..432 MHz, N 50..432, R 2..7,
    pixel clock = VCO / R / (2, 4, 8 or 16)."""
    best = None
    for field, div in enumerate((2, 4, 8, 16)):
        for r in range(2, 8):
            n = (target_hz * r * div + vco_in_hz // 2) // vco_in_hz
            if 50 <= n <= 432 and 100_000_000 <= vco_in_hz * n <= 432_000_000:
                hz = vco_in_hz * n // (r * div)
                if best is None or abs(hz - target_hz) < abs(best[3] - target_hz):
                    best = (n, r, field, hz)
    return best


class Display(framebuf.FrameBuffer):
    name = "disco"

    def __init__(self, mem32=None, barrier=None):
        if mem32 is None:
            from machine import mem32
        self._mem = mem32
        self._barrier = barrier or _data_and_instruction_barrier()
        self.width = WIDTH
        self.height = HEIGHT
        try:
            self.buffer = bytearray(WIDTH * HEIGHT * 2)
        except MemoryError:
            raise MemoryError("the 261,120-byte frame buffer does not fit: this firmware's heap is not in the SDRAM "
                              "(MicroPython's STM32F7DISC board puts it there)")
        super().__init__(self.buffer, WIDTH, HEIGHT, framebuf.RGB565)
        self.address = uctypes.addressof(self.buffer)
        self.pixel_clock_hz = self._start_pixel_clock()
        self._configure_pins()
        self._configure_ltdc()
        self._set_pin(LCD_DISP, 1)
        self._set_pin(LCD_BL_CTRL, 1)

    def _modify(self, address, clear, set_):
        self._mem[address] = (self._mem[address] & ~clear) | set_

    def _start_pixel_clock(self):
        m = self._mem
        pllcfgr = m[RCC_PLLCFGR]
        source_hz = HSE_HZ if pllcfgr & (1 << 22) else HSI_HZ
        vco_in = source_hz // (pllcfgr & 0x3F)  # PLLM is shared by the main PLL and PLLSAI
        n, r, divr, hz = pllsai_settings(vco_in)
        self._modify(RCC_CR, CR_PLLSAION, 0)  # PLLSAI may only be changed while it is off
        self._wait(RCC_CR, CR_PLLSAIRDY, 0)
        self._modify(RCC_PLLSAICFGR, 0x1FF << 6 | 7 << 28, n << 6 | r << 28)  # keep P and Q (SAI, 48 MHz)
        self._modify(RCC_DCKCFGR1, 3 << 16, divr << 16)
        self._modify(RCC_CR, 0, CR_PLLSAION)
        self._wait(RCC_CR, CR_PLLSAIRDY, CR_PLLSAIRDY)
        return hz

    def _wait(self, address, mask, value):
        for _ in range(100_000):
            if self._mem[address] & mask == value:
                return
        raise OSError("timeout waiting for register 0x%08x" % address)

    def _configure_pins(self):
        ports = set(p[0] for p in LTDC_PINS) | {LCD_DISP[0], LCD_BL_CTRL[0]}
        self._modify(RCC_AHB1ENR, 0, sum(1 << (ord(p) - ord("A")) for p in ports))
        for letter, pin, af in LTDC_PINS:
            base = _port(letter)
            self._modify(base + MODER, 3 << 2 * pin, 2 << 2 * pin)  # alternate function
            self._modify(base + OTYPER, 1 << pin, 0)  # push-pull
            self._modify(base + OSPEEDR, 3 << 2 * pin, 2 << 2 * pin)  # high speed (9.6 MHz signals)
            self._modify(base + PUPDR, 3 << 2 * pin, 0)
            afr = base + AFRL + 4 * (pin >> 3)
            self._modify(afr, 0xF << 4 * (pin & 7), af << 4 * (pin & 7))
        for letter, pin in (LCD_DISP, LCD_BL_CTRL):
            base = _port(letter)
            self._set_pin((letter, pin), 0)
            self._modify(base + MODER, 3 << 2 * pin, 1 << 2 * pin)  # output
            self._modify(base + OTYPER, 1 << pin, 0)
            self._modify(base + OSPEEDR, 3 << 2 * pin, 2 << 2 * pin)
            self._modify(base + PUPDR, 3 << 2 * pin, 0)  # MicroPython's board init left a pull-up on PK3

    def _set_pin(self, pin, on):
        letter, n = pin
        self._mem[_port(letter) + BSRR] = 1 << n if on else 1 << (n + 16)

    def _configure_ltdc(self):
        m = self._mem
        self._modify(RCC_APB2ENR, 0, APB2ENR_LTDCEN)
        ahbp = HSYNC + HBP - 1
        avbp = VSYNC + VBP - 1
        m[LTDC_SSCR] = (HSYNC - 1) << 16 | (VSYNC - 1)
        m[LTDC_BPCR] = ahbp << 16 | avbp
        m[LTDC_AWCR] = (ahbp + WIDTH) << 16 | (avbp + HEIGHT)
        m[LTDC_TWCR] = (ahbp + WIDTH + HFP) << 16 | (avbp + HEIGHT + VFP)
        self._modify(LTDC_GCR, GCR_POLARITIES, 0)
        m[LTDC_BCCR] = 0  # black background
        self._modify(LTDC_GCR, 0, GCR_LTDCEN)
        # Layer 1 covers the whole active area. Its registers are shadowed: they take effect at the reload, which
        # the running controller performs (HAL_LTDC_ConfigLayer's order).
        m[L1WHPCR] = (ahbp + WIDTH) << 16 | (ahbp + 1)
        m[L1WVPCR] = (avbp + HEIGHT) << 16 | (avbp + 1)
        m[L1PFCR] = PF_RGB565
        m[L1CACR] = 255
        m[L1DCCR] = 0
        m[L1BFCR] = BF_PIXEL_TIMES_CONSTANT_ALPHA
        m[L1CFBAR] = self.address
        m[L1CFBLR] = (WIDTH * 2) << 16 | (WIDTH * 2 + 3)  # pitch, line length + 3 (RM0385)
        m[L1CFBLNR] = HEIGHT
        self._modify(L1CR, 0, L1CR_LEN)
        m[LTDC_SRCR] = SRCR_IMR  # load the shadow registers now

    def deinit(self):
        """Switch the layer off: the LTDC stops reading the frame buffer (do this before the buffer is freed)."""
        self._modify(L1CR, L1CR_LEN, 0)
        self._mem[LTDC_SRCR] = SRCR_IMR

    def show(self):
        """Write the frame buffer out of the D-cache so the LTDC sees it: clean every set and way, with the
        barriers CMSIS's SCB_CleanDCache has (after selecting the cache, and once the cleaning is done)."""
        m = self._mem
        m[SCB_CSSELR] = 0  # level 1 data cache
        self._barrier()
        ccsidr = m[SCB_CCSIDR]
        sets = (ccsidr >> 13 & 0x7FFF) + 1
        ways = (ccsidr >> 3 & 0x3FF) + 1
        line_shift = (ccsidr & 7) + 4  # log2 of the line size in bytes
        way_shift = 32
        while (1 << (32 - way_shift)) < ways:
            way_shift -= 1  # the way number sits in the top log2(ways) bits
        for way in range(ways):
            for s in range(sets):
                m[SCB_DCCSW] = way << way_shift | s << line_shift
        self._barrier()


def _data_and_instruction_barrier():
    """DSB SY then ISB SY, through the inline assembler (which the stm32 port has). Compiled when a display is
    opened, so that this module still imports where there is none (the unix port runs it in the tests)."""
    import micropython

    namespace = {"micropython": micropython}
    exec("@micropython.asm_thumb\n"
         "def barrier():\n"
         "    data(2, 0xF3BF, 0x8F4F)\n"  # DSB SY
         "    data(2, 0xF3BF, 0x8F6F)\n",  # ISB SY
         namespace)
    return namespace["barrier"]
