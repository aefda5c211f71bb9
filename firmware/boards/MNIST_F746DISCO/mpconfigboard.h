// mpy-mnist's additions to MicroPython's STM32F7DISC configuration (appended to the copy of its mpconfigboard.h).
#undef MICROPY_HW_BOARD_NAME
#define MICROPY_HW_BOARD_NAME       "STM32F746G-DISCO (mpy-mnist)"
