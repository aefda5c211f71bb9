# mpy-mnist's STM32F746G-DISCO: MicroPython's STM32F7DISC board (SDRAM as heap), which firmware.py copies from the
# MicroPython source into the build directory, with this file appended to its mpconfigboard.mk.

# No networking or TLS: the app needs neither, and Debian's source has no lwIP or mbedTLS.
MICROPY_PY_LWIP = 0
MICROPY_PY_SSL = 0
MICROPY_SSL_MBEDTLS = 0
