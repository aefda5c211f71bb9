"""Makes the README's pictures of the viewer: docs/viewer-demo.png, an animated PNG of the emulated board's LCD
(frames as `mpy-mnist emulate --view` sends them) running mnist.run() and then reading a 7 drawn with the mouse on
the page, and docs/viewer-page.png, the page in the browser.

    python3 docs/viewer_demo.py        # from a checkout; needs Debian's chromium and playwright (pip)

It builds the emulator firmware if needed, starts the board, serves the viewer, and draws in headless chromium
with the viewer tests' helpers (tests/viewer/viewer_support.py).
"""

import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

DOCS = Path(__file__).resolve().parent
sys.path[:0] = [str(DOCS.parent / "host"), str(DOCS.parent / "tests" / "viewer")]

from mpy_mnist import emulator, viewer  # noqa: E402 (after the checkout's folders are on the path)
from viewer_support import draw, launch_chromium  # noqa: E402

# A 7 in LCD pixels, inside draw()'s 224x224 box at (16, 16): the bar, then the stem.
SEVEN = [(64 + x, 56) for x in range(0, 124, 4)] + [(186 - x // 2, 56 + x) for x in range(0, 164, 4)]


def mpremote(port, code, wait=True):
    process = subprocess.Popen([sys.executable, "-m", "mpremote", "connect", port, "exec", code])
    if wait and process.wait(timeout=300) != 0:
        raise SystemExit(f"mpremote failed: {code}")
    return process


def main():
    with emulator.start() as emu, viewer.serve(emu, port=0) as view, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1600, "height": 640})
        page.goto(view.url)
        page.wait_for_function("window.viewer.connected && window.viewer.frames > 0")
        with viewer.Recorder(emu) as recording:
            mpremote(emu.port, "import mnist; mnist.run(count=4, delay_ms=1200)")
            drawing = mpremote(emu.port, "import mnist; mnist.draw(rounds=1)", wait=False)
            time.sleep(3)  # draw() loads the model and clears the screen
            draw(page, SEVEN)
            time.sleep(1.4)  # the answer, shown until draw() returns
            page.screenshot(path=DOCS / "viewer-page.png")
            drawing.wait(timeout=60)
        recording.save(DOCS / "viewer-demo.png")
        browser.close()
    print(f"{len(recording.frames)} frames -> {DOCS / 'viewer-demo.png'}; the page -> {DOCS / 'viewer-page.png'}")


if __name__ == "__main__":
    main()
