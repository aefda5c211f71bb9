# The emulated board's touch panel: the host's viewer (`mpy-mnist emulate --view`) writes the pen into the board's
# memory at emulator.TOUCH_ADDRESS as one 32-bit word (board.h: x in bits 0-11, y in bits 12-23, bit 24 while the
# pen is down), in a single store, so that one load here never sees half of a point. It answers like the FT5336
# driver (touched(), x, y), so everything after the panel read is the DISCO's code.

from micropython import const

_COORDINATE = const(0xFFF)
_Y_SHIFT = const(12)
_DOWN = const(1 << 24)


class Panel:
    def __init__(self, mem32, address):
        self.mem32 = mem32  # machine.mem32 on the board
        self.address = address
        self.x = self.y = 0

    def touched(self):
        """True while the pen is down; its screen position is then in self.x, self.y."""
        word = self.mem32[self.address]  # under 2**25: a small int, nothing allocated
        if not word & _DOWN:
            return False
        self.x = word & _COORDINATE
        self.y = word >> _Y_SHIFT & _COORDINATE
        return True
