"""Fixtures of the native-module tier: stock firmware (no tflite module inside, nothing of ours frozen) and the
tflite.mpy files built for it."""

import pytest

from needs import require_tool


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
    from mpy_mnist import firmware

    require_tool("arm-none-eabi-gcc", "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")
    require_tool("qemu-system-arm", "apt-get install qemu-system-arm")
    return firmware.build_stock("emulator")


@pytest.fixture(scope="session")
def no_native_emulator_firmware():
    """The stock emulated board built without its Thumb emitters: a firmware that cannot load native modules."""
    from mpy_mnist import firmware

    require_tool("arm-none-eabi-gcc", "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")
    require_tool("qemu-system-arm", "apt-get install qemu-system-arm")
    return firmware.build_stock("emulator", native_code=False)


@pytest.fixture(scope="session")
def natmod_x64():
    from mpy_mnist import firmware

    return firmware.natmod("x64")


@pytest.fixture(scope="session")
def natmod_armv7emsp():
    from mpy_mnist import firmware

    require_tool("arm-none-eabi-gcc", "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")
    return firmware.natmod("armv7emsp")


@pytest.fixture(scope="session")
def natmod_armv7m():
    from mpy_mnist import firmware

    require_tool("arm-none-eabi-gcc", "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")
    return firmware.natmod("armv7m")
