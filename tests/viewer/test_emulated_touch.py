"""The emulated board's touch panel on the unix port: the word the viewer writes (mpy_mnist.emulator.touch_word)
decoded by device_python/mnist/emulated_touch.py, and a stroke read through it drawn exactly as the same stroke
read from the DISCO's FT5336 (tests/unix/fake_ft5336.py)."""

import json
import os
import subprocess

import pytest

from mpy_mnist import emulator, paths

pytestmark = pytest.mark.unix

# A 7 in screen points, inside the 224x224 drawing box at (16, 16).
SEVEN = [(60 + x, 50) for x in range(0, 130, 4)] + [(190 - i, 50 + 2 * i) for i in range(0, 80, 3)]
LIFT_READS = 10

SCRIPT = """
import json
from fake_ft5336 import I2C
from display.headless import Display
from mnist.emulated_touch import Panel
from mnist.screen import Screen
from mnist.touch import FT5336, Canvas, read_stroke

class Memory:
    # machine.mem32 as the viewer fills it: one word per read, the pen's words, then lifted ones.
    def __init__(self, words):
        self.words = words
        self.reads = 0
    def __getitem__(self, address):
        assert address == 0x60040000
        word = self.words[min(self.reads, len(self.words) - 1)]
        self.reads += 1
        return word

panel = Panel(Memory({words!r}), 0x60040000)
print(json.dumps([panel.touched(), panel.x, panel.y]))
canvases = []
for source in (Panel(Memory({words!r}), 0x60040000), FT5336(I2C([{stroke!r}], lift_reads={lift}))):
    screen = Screen(Display())
    canvas = Canvas(screen)
    canvas.clear()
    read_stroke(source, canvas, screen.display)
    canvases.append(list(canvas.bits))
print(json.dumps(canvases))
"""


def test_stroke_through_the_emulated_panel_is_drawn_as_through_the_ft5336(unix_micropython):
    words = [emulator.touch_word(x, y, True) for x, y in SEVEN]
    words += [emulator.touch_word(*SEVEN[-1], False)] * LIFT_READS
    env = dict(os.environ, MICROPYPATH=f"{paths.DEVICE_PYTHON_DIR}:{paths.REPO_ROOT / 'tests' / 'unix'}")
    result = subprocess.run([str(unix_micropython), "-c", SCRIPT.format(words=words, stroke=SEVEN, lift=LIFT_READS)],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    first, canvases = (json.loads(line) for line in result.stdout.splitlines())
    assert first == [True, *SEVEN[0]]
    emulated, ft5336 = canvases
    assert any(emulated), "nothing drawn"
    assert emulated == ft5336
