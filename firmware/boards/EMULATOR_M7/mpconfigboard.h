// Configuration of the emulated board: the qemu port's own settings, then ours on top.
#include "mpconfigport.h"

// The port leaves `time` out; we provide ticks and sleeps from SysTick (board.c), and a clock that starts at the
// epoch at reset (modtime_board.h), as on a DISCO whose RTC is not set.
#undef MICROPY_PY_TIME
#define MICROPY_PY_TIME             (1)
#define MICROPY_PY_TIME_GMTIME_LOCALTIME_MKTIME (1)
#define MICROPY_PY_TIME_TIME_TIME_NS (1)

// /flash is a FAT volume made as MicroPython 1.25's stm32 port makes the DISCO's (its mpconfigport.h and
// mpconfigboard_common.h): long names, the label "pybflash" that VfsFat.mkfs writes, as factoryreset.c does.
#define MICROPY_FATFS_ENABLE_LFN       (2)
#define MICROPY_FATFS_LFN_CODE_PAGE    437
#define MICROPY_FATFS_USE_LABEL        (1)
#define MICROPY_FATFS_RPATH            (2)
#define MICROPY_FATFS_MULTI_PARTITION  (1)
#define MICROPY_HW_FLASH_FS_LABEL      "pybflash"
