# A display that only exists in RAM: the unix port, tests, boards without a screen.

import framebuf

from . import HEIGHT, WIDTH


class Display(framebuf.FrameBuffer):
    name = "headless"

    def __init__(self):
        self.width = WIDTH
        self.height = HEIGHT
        self.buffer = bytearray(WIDTH * HEIGHT * 2)
        super().__init__(self.buffer, WIDTH, HEIGHT, framebuf.RGB565)

    def show(self):
        pass
