# mpy-mnist's STM32F746G-DISCO: MicroPython's STM32F7DISC board (SDRAM as heap), which firmware.py copies from the
# MicroPython source into the build directory, with this file appended to its mpconfigboard.mk.
#
# The build recipe is a MicroPython v1.25.0 checkout with only the lib/stm32lib submodule (the ST HAL every stm32
# build needs), or Debian's source, which has no submodules at all. Every STM32F7DISC feature that needs another
# submodule is switched off here, on purpose (the app needs none of them):
#   lib/lwip        MICROPY_PY_LWIP (sockets over Ethernet); the Ethernet driver itself: see mpconfigboard.h
#   lib/mbedtls     MICROPY_PY_SSL / MICROPY_SSL_MBEDTLS (the `ssl`/`tls` modules, and the hashlib md5/sha1 and
#                   cryptolib that follow MICROPY_PY_SSL in the port's mpconfigport.h)
#   micropython-lib STM32F7DISC's manifest.py (`require("bundle-networking")`): our manifest.py replaces it
# Already off for this board in the port: btree (lib/berkeley-db-1.xx), Bluetooth (lib/btstack, mynewt-nimble),
# CYW43 Wi-Fi (lib/cyw43-driver), WIZnet (lib/wiznet5k), TinyUSB (the port's own USB device stack is used).
# lib/libhydrogen, also in the port's GIT_SUBMODULES, is used only by mboot, which this build does not make.
MICROPY_PY_LWIP = 0
MICROPY_PY_SSL = 0
MICROPY_SSL_MBEDTLS = 0

# The stm32 port compiles everything with -fsingle-precision-constant (MicroPython's own float code is single
# precision). The tflite engine computes quantisation multipliers in double precision, as TFLM does, so that its
# integer results match TFLM's bit for bit: its objects are compiled without that flag.
$(BUILD)/tflite/%.o: CFLAGS += -fno-single-precision-constant
# The frozen modules at -O2, whose only effect on them: GCC word-aligns string constants unless optimising for
# size, so the frozen model's bytes, and the FC weights packed 16-aligned inside it, are word-aligned for the
# DSP kernel's 4-word loads (at -Os the kernel finds them misaligned and reads the int8 weights instead).
$(BUILD)/frozen_content.o: CFLAGS += -O2
