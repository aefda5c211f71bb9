// The emulated board's fixed memory, outside the MicroPython heap. QEMU's mps2-an500 has 4 MiB SSRAM1 at
// 0x00000000 (code, data, heap, stack: the port's mps2.ld), 4 MiB SSRAM2/3 at 0x20000000 (the RAM disk) and
// 16 MiB PSRAM at 0x60000000, the machine's main RAM, which the host shares with QEMU as a file (mpy_mnist's
// emulator.py): the host reads the LCD from it and writes the touch panel into it, at no cost to the board.
#ifndef MPY_MNIST_EMULATOR_BOARD_H
#define MPY_MNIST_EMULATOR_BOARD_H

// The LCD: 480x272 RGB565, like the DISCO's (whose frame buffer is in its SDRAM). The host reads it: screenshots,
// the viewer (`mpy-mnist emulate --view`).
#define LCD_WIDTH       (480)
#define LCD_HEIGHT      (272)
#define LCD_ADDRESS     (0x60000000)
#define LCD_BYTES       (LCD_WIDTH * LCD_HEIGHT * 2)

// The touch panel: one 32-bit word that the viewer writes in a single store, so one load never sees half a
// point: x (screen pixels) in bits 0-11, y in bits 12-23, bit 24 set while the pen is down. Zero at power-on.
#define TOUCH_ADDRESS   (0x60040000)

// The RAM disk mounted at /flash, the size of the DISCO's: MicroPython 1.25's stm32 port keeps /flash in the
// STM32F746's flash sectors 1-3 (its stm32f746.ld, FLASH_FS: 96 KiB) and serves it in 512-byte blocks
// (flashbdev.c, FLASH_BLOCK_SIZE); _boot.py formats it as the port does. It keeps its content across soft resets (it
// lives outside the heap) and is formatted on the first boot of each QEMU run.
#define FLASH_ADDRESS   (0x20100000)
#define FLASH_BYTES     (96 * 1024)
#define FLASH_BLOCK     (512)

#endif
