# One small display interface for the app: a framebuf.FrameBuffer (RGB565, 480x272) with show().
#   display.open()  picks the driver for where we run: the emulated board (frame buffer at emulator.LCD_ADDRESS),
#                   the STM32F746G-DISCO (LTDC, frame buffer in SDRAM) or headless (in RAM, e.g. the unix port).

import os
import sys

WIDTH = 480
HEIGHT = 272


def rgb(r, g, b):
    """RGB565 colour from 8-bit components."""
    return (r & 0xF8) << 8 | (g & 0xFC) << 3 | b >> 3


def _on_disco():
    if sys.platform != "pyboard":  # the stm32 port
        return False
    machine = os.uname().machine  # e.g. "F7DISC with STM32F746"
    return "STM32F746" in machine and "DISC" in machine


def open():
    try:
        import emulator  # frozen only into the emulator firmware
    except ImportError:
        pass
    else:
        from .emulator import Display

        return Display()
    if _on_disco():
        from .disco import Display

        return Display()
    from .headless import Display

    return Display()
