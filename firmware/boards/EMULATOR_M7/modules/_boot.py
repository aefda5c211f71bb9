# Runs after every reset of the emulated board: mounts the RAM disk at /flash as the DISCO board mounts its flash,
# so that push, `mpremote fs` and the device app see the same paths and the same room. The disk lives outside the
# heap and keeps its files across soft resets; a fresh QEMU run starts it empty, and it is made here as MicroPython
# 1.25's stm32 port makes the DISCO's (main.c init_flash_fs, factoryreset.c): a FAT volume of the same size and
# blocks, with the port's factory files in it (module _factory_files, generated from the port's source).
# It runs in the REPL's namespace, so it deletes the names it made.
import os
import sys
import uctypes
import vfs

import emulator


class RAMDisk:
    """A block device over a fixed RAM region (MicroPython's block protocol)."""

    def __init__(self, address, size, block_size):
        self.mem = memoryview(uctypes.bytearray_at(address, size))
        self.block_size = block_size

    def readblocks(self, block, buf):
        start = block * self.block_size
        buf[:] = self.mem[start : start + len(buf)]

    def writeblocks(self, block, buf):
        start = block * self.block_size
        self.mem[start : start + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return len(self.mem) // self.block_size
        if op == 5:  # block size
            return self.block_size


def _mount_flash():
    disk = RAMDisk(emulator.FLASH_ADDRESS, emulator.FLASH_BYTES, emulator.FLASH_BLOCK)
    try:
        vfs.mount(vfs.VfsFat(disk), "/flash")
    except OSError:  # no filesystem yet: a fresh start
        vfs.VfsFat.mkfs(disk)
        vfs.mount(vfs.VfsFat(disk), "/flash")
        from _factory_files import FILES

        for name, data in FILES:
            with open("/flash/" + name, "wb") as f:
                f.write(data)
        del sys.modules["_factory_files"]
    os.chdir("/flash")
    sys.path.append("/flash/lib")


_mount_flash()
del _mount_flash, RAMDisk, emulator, os, sys, uctypes, vfs
