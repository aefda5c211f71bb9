# The emulated board's LCD: a fixed frame buffer in its RAM (RGB565) that the host reads back as a screenshot.

import emulator
import framebuf
import uctypes


class Display(framebuf.FrameBuffer):
    name = "emulator"

    def __init__(self):
        self.width = emulator.LCD_WIDTH
        self.height = emulator.LCD_HEIGHT
        self.buffer = uctypes.bytearray_at(emulator.LCD_ADDRESS, self.width * self.height * 2)
        super().__init__(self.buffer, self.width, self.height, framebuf.RGB565)

    def show(self):
        pass  # the host reads the memory itself
