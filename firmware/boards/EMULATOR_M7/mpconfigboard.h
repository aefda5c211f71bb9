// Configuration of the emulated board: the qemu port's own settings, then ours on top.
#include "mpconfigport.h"

// The port leaves `time` out; we provide ticks and sleeps from SysTick (board.c), and a clock that starts at the
// epoch at reset (modtime_board.h), as on a DISCO whose RTC is not set.
#undef MICROPY_PY_TIME
#define MICROPY_PY_TIME             (1)
#define MICROPY_PY_TIME_GMTIME_LOCALTIME_MKTIME (1)
#define MICROPY_PY_TIME_TIME_TIME_NS (1)
