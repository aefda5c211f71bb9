"""The app on the emulated board, driven by the real mpremote over the emulator's pty: the demo's predictions
against the TFLM runtime, its screen read back from the LCD frame buffer, a model pushed to /flash, and the mip
package."""

import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from mpy_mnist import bitmaps, paths

from device_support import check_screen
from test_device_app import LINE, default_model, tflm_outputs

pytestmark = pytest.mark.emulator

LAYOUT = dict(x=16, y=16, scale=8, panel=256)  # mnist/screen.py's layout


@pytest.fixture(scope="module")
def emu():
    if shutil.which("qemu-system-arm") is None:
        pytest.fail("qemu-system-arm not found: apt-get install qemu-system-arm", pytrace=False)
    from mpy_mnist import emulator

    with emulator.start() as running:
        yield running


def mpremote(emu, *args, timeout=300):
    proc = subprocess.run([sys.executable, "-m", "mpremote", "connect", emu.port, *args],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"mpremote {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_demo_predicts_like_tflm_and_shows_the_digit(emu):
    model_bytes, labels, packed = default_model()
    out = mpremote(emu, "run", str(paths.DEVICE_PYTHON_DIR / "demo.py"))
    assert "display: emulator" in out
    lines = [tuple(map(int, m.groups())) for m in LINE.finditer(out)]
    assert len(lines) == 10, out
    indices = [line[0] for line in lines]
    _, outputs = tflm_outputs(model_bytes, packed, indices)
    assert [line[1] for line in lines] == [labels[i] for i in indices]
    assert [line[2] for line in lines] == list(outputs.argmax(axis=1))
    assert re.search(r"10 digits, \d+ right, accuracy [\d.]+%, mean inference \d+ us", out)
    last = indices[-1]
    pixels = emu.lcd_pixels()
    r, g, b = (pixels[..., i].astype(np.uint16) for i in range(3))
    rgb565 = (r >> 3) << 11 | (g >> 2) << 5 | b >> 3
    check_screen(rgb565, bitmaps.unpack(packed[112 * last : 112 * (last + 1)])[0], LAYOUT)


def test_a_pushed_model_wins_and_a_bad_one_is_reported(emu, tmp_path):
    model_bytes = default_model()[0]
    target = f":{paths.DEVICE_DIR}/{paths.MODEL_FILE}"
    good = tmp_path / paths.MODEL_FILE
    good.write_bytes(model_bytes)
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(model_bytes[: len(model_bytes) // 2])
    run_one = "import mnist\nmnist.run(count=1, delay_ms=0)"
    try:
        mpremote(emu, "cp", str(good), target)
        assert f"model: {paths.DEVICE_DIR}/{paths.MODEL_FILE}" in mpremote(emu, "exec", run_one)
        mpremote(emu, "cp", str(bad), target)
        out = mpremote(emu, "exec", run_one)
        assert f"mnist: {paths.DEVICE_DIR}/{paths.MODEL_FILE} is unusable" in out
        assert "model: frozen mnist_model" in out
        message_rows = emu.lcd_pixels()[252:]
        assert message_rows.any(), "the bad model is not reported on the screen"
    finally:
        mpremote(emu, "rm", target)


def test_mip_installs_the_app_from_the_repository(emu):
    out = mpremote(emu, "mip", "install", "--target", f"{paths.DEVICE_DIR}/lib",
                   str(paths.DEVICE_PYTHON_DIR / "package.json"))
    assert "Installing:" in out
    listing = mpremote(emu, "exec", f"import os; print(sorted(os.listdir('{paths.DEVICE_DIR}/lib/mnist')))")
    assert "'__init__.py'" in listing and "'decoder.py'" in listing
