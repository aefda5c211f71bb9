"""Makes the README's pictures of the viewer: docs/viewer-demo.png, an animated PNG of the emulated board's LCD
(frames as `mpy-mnist emulate --view` sends them) running mnist.run() and then reading a 7 drawn with the mouse on
the page, and docs/viewer-page.png, the page in the browser.

    python3 docs/viewer_demo.py        # from a checkout; needs Debian's chromium and playwright (pip)

It builds the emulator firmware if needed, starts the board, serves the viewer, and draws in headless chromium.
"""

import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent / "host"))

from mpy_mnist import emulator, viewer  # noqa: E402 (after the checkout's host/ is on the path)

# A 7 in LCD pixels, inside draw()'s 224x224 box at (16, 16): the bar, then the stem.
SEVEN = [(64 + x, 56) for x in range(0, 124, 4)] + [(186 - x // 2, 56 + x) for x in range(0, 164, 4)]


def mpremote(port, code, wait=True):
    process = subprocess.Popen([sys.executable, "-m", "mpremote", "connect", port, "exec", code])
    if wait and process.wait(timeout=300) != 0:
        raise SystemExit(f"mpremote failed: {code}")
    return process


def draw(page, stroke):
    box = page.locator("#lcd").bounding_box()
    scale = box["width"] / 480
    points = [(box["x"] + (x + 0.5) * scale, box["y"] + (y + 0.5) * scale) for x, y in stroke]
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        time.sleep(0.02)
        page.mouse.move(*point)
    page.mouse.up()


def main():
    with emulator.start() as emu, viewer.serve(emu, port=0) as view, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                                                   "--disable-background-networking", "--disable-component-update",
                                                   "--disable-sync"])
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
