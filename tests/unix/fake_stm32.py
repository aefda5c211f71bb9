# A stand-in for the STM32F746's memory-mapped registers, for running the DISCO display driver on the unix port.
# It behaves like the hardware where the driver depends on it (PLLSAIRDY follows PLLSAION after a few reads; the
# cache geometry registers describe the F746's 4 KB 4-way D-cache; PLLCFGR is MicroPython's F7DISC setting) and
# logs every access, one line each, for the host-side test to check against RM0385's rules.

RCC_CR = 0x40023800
RCC_PLLCFGR = 0x40023804
SCB_CCSIDR = 0xE000ED80
PLLSAION = 1 << 28
PLLSAIRDY = 1 << 29


class Mem32:
    def __init__(self):
        # HSE selected (bit 22), PLLM = 25, PLLN = 384, PLLP = /2, PLLQ = 8: the board's MicroPython clock setup.
        self.regs = {RCC_PLLCFGR: 1 << 22 | 8 << 24 | 384 << 6 | 25, RCC_CR: 0x03036783}
        self._lock_countdown = 0

    def __getitem__(self, address):
        if address == SCB_CCSIDR:
            value = 31 << 13 | 3 << 3 | 1  # 32 sets, 4 ways, 8-word lines
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
        return value

    def __setitem__(self, address, value):
        value &= 0xFFFFFFFF
        if address == RCC_CR and value & PLLSAION and not self.regs.get(address, 0) & PLLSAION:
            self._lock_countdown = 3
        self.regs[address] = value
        print("W 0x%08x 0x%08x" % (address, value))
