# mpy-mnist's STM32F746G-DISCO: MicroPython's STM32F7DISC board (SDRAM as heap), which firmware.py copies from the
# MicroPython source into the build directory, with this file appended to its mpconfigboard.mk.

# No networking or TLS: the app needs neither, and Debian's source has no lwIP or mbedTLS.
MICROPY_PY_LWIP = 0
MICROPY_PY_SSL = 0
MICROPY_SSL_MBEDTLS = 0

# The stm32 port compiles everything with -fsingle-precision-constant (MicroPython's own float code is single
# precision). The tflite engine computes quantisation multipliers in double precision, as TFLM does, so that its
# integer results match TFLM's bit for bit: its objects are compiled without that flag.
$(BUILD)/tflite/%.o: CFLAGS += -fno-single-precision-constant
