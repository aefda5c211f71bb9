"""Fixtures of the native-module tier: stock firmware (no tflite module inside, nothing of ours frozen) and the
tflite.mpy files built for it."""

import pytest

from needs import require_tool


def _arm_toolchain():
    require_tool("arm-none-eabi-gcc", "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")


def _stock_emulator(native_code):
    from mpy_mnist import firmware

    _arm_toolchain()
    require_tool("qemu-system-arm", "apt-get install qemu-system-arm")
    return firmware.build_stock("emulator", native_code=native_code)


def _natmod(arch):
    from mpy_mnist import firmware

    if arch != "x64":
        _arm_toolchain()
    return firmware.natmod(arch)


@pytest.fixture(scope="session")
def stock_unix_micropython():
    """MicroPython's unix port as a board owner would have it: no user C module, nothing of ours frozen."""
    from mpy_mnist import firmware

    require_tool("make", "apt-get install make")
    require_tool("cc", "apt-get install gcc")
    return firmware.build_stock("unix")


@pytest.fixture(scope="session")
def stock_emulator_firmware():
    """The emulated Cortex-M7 board without our C module and without the frozen app (its boot script mounts
    /flash)."""
    return _stock_emulator(native_code=True)


@pytest.fixture(scope="session")
def no_native_emulator_firmware():
    """The stock emulated board built without its Thumb emitters: a firmware that cannot load native modules."""
    return _stock_emulator(native_code=False)


@pytest.fixture(scope="session")
def natmod_x64():
    return _natmod("x64")


@pytest.fixture(scope="session")
def natmod_armv7emsp():
    return _natmod("armv7emsp")


@pytest.fixture(scope="session")
def natmod_armv7m():
    return _natmod("armv7m")
