# A stand-in for the DISCO's touch controller on its I2C bus, for running mnist.draw() on the unix port.
# It answers like machine.I2C with an FT5336 at 0x38: chip id 0x51 at 0xA8, TD_STATUS at 0x02 (touch count in the
# low nibble), touch 1 at 0x03-0x06 (12-bit coordinates, event flag in P1_XH's top bits, touch id in P1_YH's),
# with the panel's X along the screen's Y as on the board; G_MODE (0xA4) may be written (the BSP sets polling).
# Anything else on the bus is absent (ENODEV), like a real bus. It plays a list of strokes: each a list of screen
# points, one point per read of TD_STATUS, then one read reporting the lift (event 1, at the last point, still one
# touch in TD_STATUS), then a pause with no touch, so the app sees a finger put down, moved and lifted. A chip
# powered up `startup_ms` ago (when the I2C object is made) does not answer until then: the FT5336 starts reporting
# 200 ms after power-up or reset (Trsi in its datasheet; ST's ft5336_Init waits that long).

import time

ADDRESS = 0x38


class I2C:
    def __init__(self, strokes, lift_reads=200, startup_ms=0):
        self._ready = time.ticks_add(time.ticks_ms(), startup_ms)
        self.regs = bytearray(256)
        self.regs[0xA8] = 0x51
        self.regs[0xA4] = 0x01  # G_MODE after power-up: interrupt trigger mode
        self.frames = []
        for stroke in strokes:
            for i, point in enumerate(stroke):
                self.frames.append((point, 0 if i == 0 else 2))  # event: 0 put down, 2 contact
            self.frames.append((stroke[-1], 1))  # 1 lift up
            self.frames.extend([None] * lift_reads)
        self.reads = 0

    def _acknowledge(self, address):
        if address != ADDRESS or time.ticks_diff(time.ticks_ms(), self._ready) < 0:
            raise OSError(19)  # ENODEV, as machine.I2C reports a device that does not answer

    def _check(self, address, register):
        self._acknowledge(address)
        if register != 0x02 and register != 0xA8:
            raise ValueError("unexpected register 0x%02x" % register)

    def _advance(self):
        frame = self.frames[self.reads] if self.reads < len(self.frames) else None
        self.reads += 1
        r = self.regs
        if frame is None:
            r[0x02] = 0
            return
        (x, y), event = frame
        r[0x02] = 1
        r[0x03] = event << 6 | (y >> 8)  # the panel's X is the screen's Y
        r[0x04] = y & 0xFF
        r[0x05] = 0 << 4 | (x >> 8)  # touch id 0
        r[0x06] = x & 0xFF

    def readfrom_mem_into(self, address, register, buf):
        self._check(address, register)
        if register == 0x02:
            self._advance()
        buf[:] = self.regs[register : register + len(buf)]

    def writeto_mem(self, address, register, buf):
        self._acknowledge(address)
        if register != 0xA4:
            raise ValueError("unexpected write to register 0x%02x" % register)
        self.regs[register] = buf[0]

    def readfrom_mem(self, address, register, n):
        buf = bytearray(n)
        self.readfrom_mem_into(address, register, buf)
        return bytes(buf)
