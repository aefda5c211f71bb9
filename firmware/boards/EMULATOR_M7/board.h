// The emulated board's fixed memory, outside the MicroPython heap. QEMU's mps2-an500 has 4 MiB SSRAM1 at
// 0x00000000 (code, data, heap, stack: the port's mps2.ld) and 4 MiB SSRAM2/3 at 0x20000000, used here.
#ifndef MPY_MNIST_EMULATOR_BOARD_H
#define MPY_MNIST_EMULATOR_BOARD_H

// The LCD: 480x272 RGB565, like the DISCO's. Nothing displays it; the host reads it back through QEMU's monitor.
#define LCD_WIDTH       (480)
#define LCD_HEIGHT      (272)
#define LCD_ADDRESS     (0x20000000)
#define LCD_BYTES       (LCD_WIDTH * LCD_HEIGHT * 2)

// The RAM disk mounted at /flash. It keeps its content across soft resets (it lives outside the heap) and is
// formatted on the first boot of each QEMU run.
#define FLASH_ADDRESS   (0x20100000)
#define FLASH_BYTES     (3 * 1024 * 1024)
#define FLASH_BLOCK     (4096)

#endif
