"""The device app's tests: MicroPython code run on the real unix port (built with our tflite module) and on the
emulated board through mpremote, checked on the host against the host's own definitions (bitmaps.py, the TFLM
runtime)."""

import os
import subprocess
from pathlib import Path

import pytest
from device_support import DEVICE_PYTHON, UNIX_HELPERS


@pytest.fixture(scope="session")
def micropython():
    """The unix port with our modules; MPY_MNIST_UNIX_MICROPYTHON names a ready binary instead of building one."""
    ready = os.environ.get("MPY_MNIST_UNIX_MICROPYTHON")
    if ready:
        return Path(ready)
    from mpy_mnist import firmware

    return Path(firmware.build("unix"))


class MicroPython:
    """Runs scripts on the unix port with the app, the test helpers and a work directory on its path."""

    def __init__(self, binary, workdir):
        self.binary = binary
        self.workdir = workdir

    def env(self):
        path = [str(DEVICE_PYTHON), str(UNIX_HELPERS), str(self.workdir)]
        return dict(os.environ, MICROPYPATH=":".join(path))

    def run(self, script, timeout=120, check=True):
        proc = subprocess.run(
            [str(self.binary), "-X", "heapsize=8M", "-c", script],
            cwd=self.workdir, env=self.env(), capture_output=True, text=True, timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"micropython failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def output(self, script, **kw):
        return self.run(script, **kw).stdout


@pytest.fixture
def mpy(micropython, tmp_path):
    return MicroPython(micropython, tmp_path)
