"""Helpers the device tests share (kept out of conftest.py so that test modules can import them by name)."""

import numpy as np

from mpy_mnist import bitmaps, paths

REPO = paths.REPO_ROOT
DEVICE_PYTHON = paths.DEVICE_PYTHON_DIR
UNIX_HELPERS = REPO / "tests" / "unix"


def allocation_script(setup: str, step: str) -> str:
    """A MicroPython script that prints "ALLOCATED <bytes>": what 1,000 runs of the statement `step` (which may use
    the run's number i) take from the heap, after `setup` and 10 warm-up runs, with the collector off."""
    return setup + f"""
import gc
def loop(n):
    for i in range(n):
        {step}
loop(10)
gc.collect()
gc.disable()
before = gc.mem_free()
loop(1000)
print("ALLOCATED", before - gc.mem_free())
"""


def allocated_bytes(output: str) -> int:
    """The figure an allocation_script printed."""
    return int(output.split("ALLOCATED")[1])


def random_digits(count, seed=0):
    """(labels, grey images) of random pixels: every bit pattern the decoder could meet."""
    rng = np.random.default_rng(seed)
    return bytes(rng.integers(0, 10, count, dtype=np.uint8)), rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)


def write_digit_modules(directory, labels, images):
    """The digit set as the firmware freezes it (mnist_digits.py) and as push puts it on /flash (digits.bin)."""
    packed = bitmaps.pack(images)
    (directory / paths.DIGITS_MODULE).write_text(f"LABELS = {bytes(labels)!r}\nBITMAPS = {packed!r}\n")
    (directory / paths.DIGITS_FILE).write_bytes(bitmaps.digits_file_bytes(labels, packed))


def screen_pixels(rgb565: bytes, width=480, height=272) -> np.ndarray:
    """A little-endian RGB565 frame buffer as (height, width) uint16."""
    return np.frombuffer(rgb565, dtype="<u2").reshape(height, width)


def check_screen(pixels: np.ndarray, bits: np.ndarray, layout: dict):
    """The digit drawn at layout (x, y, scale) shows exactly `bits` (28x28 bool); the text panel has ink."""
    x0, y0, scale = layout["x"], layout["y"], layout["scale"]
    centres = pixels[y0 + scale // 2 : y0 + 28 * scale : scale, x0 + scale // 2 : x0 + 28 * scale : scale]
    assert centres.shape == (28, 28)
    np.testing.assert_array_equal(centres == 0xFFFF, bits, err_msg="drawn digit differs from its bitmap")
    assert not (centres[~bits]).any(), "background of the digit is not black"
    panel = pixels[:, layout["panel"] :]
    assert np.count_nonzero(panel) > 2000, "the text and bars panel is empty"
