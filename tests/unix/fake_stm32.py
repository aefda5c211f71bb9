# A stand-in for the STM32F746's memory-mapped registers, for running the DISCO display driver on the unix port
# (and read by the host-side test, under CPython, for the state it starts from).
#
# It starts from the board's state after MicroPython's boot (the STM32F7DISC board of MicroPython 1.25: clocks from
# the 25 MHz HSE through the main PLL; the SDRAM's 38 FMC pins, USART1 (the REPL), I2C3, USB FS, the LED, the user
# switch and the backlight pin as its board files and drivers configure them), RM0385's reset values elsewhere
# (PLLSAICFGR 0x24003000, GPIOA/GPIOB's debug pins, ...). It behaves like the hardware where the driver depends on it:
# PLLSAIRDY follows PLLSAION after a few reads; BSRR sets and resets ODR bits; CCSIDR describes the cache CSSELR
# selects (the 4 KB 4-way D-cache, or the 4 KB 2-way I-cache, which CSSELR selects at the start, as CMSIS's
# SCB_EnableICache leaves it); reads return what machine.mem32 returns on the stm32 port, the word as a signed 32-bit
# int (extmod/machine_mem.c: mp_obj_new_int of the word), so a register with bit 31 set reads negative. It logs every
# access and barrier, one line each, for the host-side test.

RCC_CR = 0x40023800
RCC_PLLCFGR = 0x40023804
SCB_CCSIDR = 0xE000ED80
SCB_CSSELR = 0xE000ED84
PLLSAION = 1 << 28
PLLSAIRDY = 1 << 29
GPIO_BSRR = 0x18
GPIO_ODR = 0x14

# The Cortex-M7's CCSIDR for its 4 KB caches: write-through, write-back, read- and write-allocate (bits 31-28), then
# sets - 1, ways - 1, log2(words a line) - 2.
D_CACHE_CCSIDR = 0xF << 28 | 31 << 13 | 3 << 3 | 1  # 32 sets, 4 ways, 8-word lines: 0xF003E019
I_CACHE_CCSIDR = 0xF << 28 | 63 << 13 | 1 << 3 | 1  # 64 sets, 2 ways, 8-word lines: 0xF007E009


def _gpio(letter):
    return 0x40020000 + 0x400 * (ord(letter) - ord("A"))


# RM0385's reset values of the registers the driver touches that are not 0.
RESET_VALUES = {
    0x40023830: 0x00100000,  # RCC_AHB1ENR: DTCMRAMEN
    0x40023888: 0x24003000,  # RCC_PLLSAICFGR: R 2, Q 4, N 192
    _gpio("A"): 0xA8000000,  # MODER: PA13-15 (SWD/JTAG) alternate function
    _gpio("A") + 0x0C: 0x64000000,  # PUPDR
    _gpio("B"): 0x00000280,  # MODER: PB3, PB4 (JTAG) alternate function
    _gpio("B") + 0x08: 0x000000C0,  # OSPEEDR
    _gpio("B") + 0x0C: 0x00000100,  # PUPDR
    0x40016818: 0x00002220,  # LTDC_GCR: dither widths (read-only)
}

# After MicroPython's boot: (port, pin, mode, alternate function, output type, speed, pull). Modes: 0 input,
# 1 output, 2 alternate function. Speeds: 2 high, 3 very high. Pulls: 0 none, 1 up. The SDRAM's FMC pins are those
# of STM32F7DISC's mpconfigboard.h, at very high speed without pulls.
SDRAM_PINS = (("C", (3,)), ("D", (0, 1, 8, 9, 10, 14, 15)), ("E", (0, 1, 7, 8, 9, 10, 11, 12, 13, 14, 15)),
              ("F", (0, 1, 2, 3, 4, 5, 11, 12, 13, 14, 15)), ("G", (0, 1, 4, 5, 8, 15)), ("H", (3, 5)))
BOOT_PINS = [(port, pin, 2, 12, 0, 3, 0) for port, pins in SDRAM_PINS for pin in pins] + [  # FMC (AF12): SDRAM
    ("A", 9, 2, 7, 0, 3, 1), ("B", 7, 2, 7, 0, 3, 1),  # USART1 TX, RX: the REPL
    ("H", 7, 2, 4, 1, 3, 1), ("H", 8, 2, 4, 1, 3, 1),  # I2C3 SCL, SDA: open drain, pull-up (the touch panel's bus)
    ("A", 10, 2, 10, 1, 3, 1), ("A", 11, 2, 10, 0, 3, 0), ("A", 12, 2, 10, 0, 3, 0),  # USB FS: ID, DM, DP
    ("I", 1, 1, 0, 0, 0, 0),  # LED1 (green), output
    ("I", 11, 0, 0, 0, 0, 0),  # user switch, input
    ("K", 3, 1, 0, 0, 3, 1),  # LCD_BL_CTRL: STM32F7DISC_board_early_init makes it an output, low, with a pull-up
]

# Clocks MicroPython's boot turned on.
BOOT_CLOCKS = {
    0x40023830: sum(1 << (ord(p) - ord("A")) for p in "ABCDEFGHIK"),  # RCC_AHB1ENR: the ports above (not J)
    0x40023838: 1 << 0,  # RCC_AHB3ENR: FMC
    0x40023834: 1 << 7,  # RCC_AHB2ENR: OTG FS
    0x40023840: 1 << 23 | 1 << 28,  # RCC_APB1ENR: I2C3, PWR
    0x40023844: 1 << 4 | 1 << 14,  # RCC_APB2ENR: USART1, SYSCFG
}


def boot_state():
    """{address: value} of the board just after MicroPython's boot."""
    regs = dict(RESET_VALUES)
    for address, bits in BOOT_CLOCKS.items():
        regs[address] = regs.get(address, 0) | bits
    for port, pin, mode, af, otype, speed, pull in BOOT_PINS:
        base = _gpio(port)
        for offset, width, value in ((0x00, 2, mode), (0x04, 1, otype), (0x08, 2, speed), (0x0C, 2, pull),
                                     (0x20 + 4 * (pin >> 3), 4, af)):
            shift = width * (pin & 7 if offset >= 0x20 else pin)
            regs[base + offset] = regs.get(base + offset, 0) & ~(((1 << width) - 1) << shift) | value << shift
    # HSE selected (bit 22), PLLM 25, PLLN 384, PLLP /2, PLLQ 8: STM32F7DISC's clock setup. HSI, HSE and PLL on.
    regs[RCC_PLLCFGR] = 1 << 22 | 8 << 24 | 384 << 6 | 25
    regs[RCC_CR] = 0x03036783
    regs[SCB_CSSELR] = 1
    return regs


class Mem32:
    def __init__(self):
        self.regs = boot_state()
        self._lock_countdown = 0

    def __getitem__(self, address):
        if address == SCB_CCSIDR:
            value = D_CACHE_CCSIDR if self.regs[SCB_CSSELR] == 0 else I_CACHE_CCSIDR
        elif address & 0x3FF == GPIO_BSRR and 0x40020000 <= address < 0x40022C00:
            value = 0  # write-only
        else:
            value = self.regs.get(address, 0)
            if address == RCC_CR and value & PLLSAION and not value & PLLSAIRDY:
                self._lock_countdown -= 1
                if self._lock_countdown <= 0:
                    value |= PLLSAIRDY
                    self.regs[address] = value
            elif address == RCC_CR and not value & PLLSAION:
                value &= ~PLLSAIRDY
                self.regs[address] = value
        print("R 0x%08x 0x%08x" % (address, value))
        return value - (1 << 32) if value & 0x80000000 else value

    def __setitem__(self, address, value):
        value &= 0xFFFFFFFF
        if address == RCC_CR and value & PLLSAION and not self.regs.get(address, 0) & PLLSAION:
            self._lock_countdown = 3
        if address & 0x3FF == GPIO_BSRR and 0x40020000 <= address < 0x40022C00:
            odr = address - GPIO_BSRR + GPIO_ODR
            self.regs[odr] = (self.regs.get(odr, 0) | value & 0xFFFF) & ~(value >> 16)
        else:
            self.regs[address] = value
        print("W 0x%08x 0x%08x" % (address, value))

    def barrier(self):
        print("BARRIER")
