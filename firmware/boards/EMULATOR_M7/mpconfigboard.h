// Configuration of the emulated board: the qemu port's own settings, then ours on top.
#include "mpconfigport.h"

// The port leaves `time` out; we provide ticks and sleeps from SysTick (board.c).
#undef MICROPY_PY_TIME
#define MICROPY_PY_TIME             (1)

// Tell frozen code it runs on the emulator.
#define MICROPY_HW_BOARD_EMULATOR   (1)
