# The emulated board: MicroPython's qemu port on QEMU's mps2-an500 (Cortex-M7), made to look like our
# STM32F746G-DISCO to the device code: single-precision FPU, a `time` module, a big heap, /flash, an LCD buffer.
QEMU_ARCH = arm
QEMU_MACHINE = mps2-an500

# The stm32 port's flags for the STM32F746 (single-precision FPU, hard-float ABI), so that our C modules and
# MicroPython's float code are compiled for the emulator exactly as for the DISCO board.
CFLAGS += -mthumb -mcpu=cortex-m7 -mtune=cortex-m7 -mfpu=fpv4-sp-d16 -mfloat-abi=hard -mfp16-format=ieee
CFLAGS += -fsingle-precision-constant
# ...except for the tflite engine, which computes its quantisation multipliers in double precision as TFLM does
# (see firmware/boards/MNIST_F746DISCO/mpconfigboard.mk, which says the same for the board).
$(BUILD)/tflite/%.o: CFLAGS += -fno-single-precision-constant
# The frozen modules at -O2, whose only effect on them: GCC word-aligns string constants unless optimising for
# size, so the frozen model's bytes, and the FC weights packed 16-aligned inside it, are word-aligned for the
# DSP kernel's 4-word loads (at -Os the kernel finds them misaligned and reads the int8 weights instead).
$(BUILD)/frozen_content.o: CFLAGS += -O2
CFLAGS += -DQEMU_SOC_MPS2
CFLAGS += -DMICROPY_HW_MCU_NAME='"Cortex-M7"'
# Our additions to the port's configuration (the time module) come in through MP_CONFIGFILE, which
# includes the port's own mpconfigport.h first.
CFLAGS += -DMP_CONFIGFILE='"$(BOARD_DIR)/mpconfigboard.h"'
CFLAGS += -DMICROPY_PY_TIME_INCLUDEFILE='"$(BOARD_DIR)/modtime_board.h"'

LDSCRIPT = $(BOARD_DIR)/emulator.ld
# board.c hooks into the port's startup without changing its files: it enables the FPU and installs its
# interrupt handlers before main() runs, mounts /flash after every mp_init(), and feeds stdin from the UART's
# receive interrupt (so Ctrl-C can stop running code, and the CPU sleeps while the REPL waits).
LDFLAGS += -Wl,--wrap=main -Wl,--wrap=mp_init -Wl,--wrap=mp_hal_stdin_rx_chr

SRC_C += $(BOARD_DIR)/board.c shared/timeutils/timeutils.c
SRC_BOARD_O = shared/runtime/gchelper_native.o shared/runtime/gchelper_thumb2.o

# The heap (.bss of the 4 MiB SSRAM1 that also holds code and stack). The LCD frame buffer and the /flash RAM
# disk sit outside it, in PSRAM and SSRAM2/3 (see board.h).
MICROPY_HEAP_SIZE = 2097152

# /flash: FAT, as on the DISCO (see mpconfigboard.h).
MICROPY_VFS_FAT = 1

MPY_CROSS_FLAGS += -march=armv7emsp
