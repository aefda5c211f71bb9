"""Shared test helpers. Tests are tiered by what they need (host only, unix port, emulator); a tier whose tool is
missing fails with a message saying how to install it, never a silent skip."""

import pytest

from needs import require_tool


@pytest.fixture(scope="session")
def unix_micropython():
    """The unix port built with our C modules and frozen device code (built once, then only when inputs change)."""
    from mpy_mnist import firmware

    require_tool("make", "apt-get install make")
    require_tool("cc", "apt-get install gcc")
    return firmware.build("unix")


@pytest.fixture(scope="session")
def emulator_firmware():
    """The emulated Cortex-M7 board's firmware (.elf). Start it with mpy_mnist.emulator.start(emulator_firmware)."""
    from mpy_mnist import firmware

    require_tool("arm-none-eabi-gcc", "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")
    require_tool("qemu-system-arm", "apt-get install qemu-system-arm")
    return firmware.build("emulator")
