"""Helpers of the viewer tests (and of docs/viewer_demo.py): Debian's chromium under Playwright, mpremote as a user
runs it, the page's console and LCD, the pen on the page."""

import subprocess
import sys
import time

import numpy as np

# Strokes in LCD pixels, inside the board's 224x224 drawing box at (16, 16), as a person would draw them.
ONE = [(130, y) for y in range(40, 220, 6)]
SEVEN = [(60 + x, 50) for x in range(0, 130, 6)] + [(190 - i, 50 + 2 * i) for i in range(0, 80, 4)]
ZERO = [(128 + round(60 * np.sin(t)), 128 - round(90 * np.cos(t))) for t in np.linspace(0, 2 * np.pi, 48)]
PEN_STEP_S = 0.015  # between pen moves: a quick hand

CHROMIUM = "/usr/bin/chromium"
# Playwright adds --headless (headless=True) and a fresh --user-data-dir of its own; its browser download is not used.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)


def start_mpremote(port: str, *args: str) -> subprocess.Popen:
    """mpremote in the background, for a program the test works with while it runs."""
    return subprocess.Popen([sys.executable, "-m", "mpremote", "connect", port, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def console(page) -> str:
    return page.eval_on_selector("#console", "element => element.textContent")


def wait_for_console(page, text: str, count: int = 1, timeout_s: float = 60) -> None:
    """Until the page's console holds `text` at least `count` times."""
    page.wait_for_function("([text, count]) => document.getElementById('console').textContent.split(text).length"
                           " > count", arg=[text, count], timeout=timeout_s * 1000)


def draw(page, stroke) -> float:
    """Draw `stroke` (LCD pixels) on the page's LCD with the mouse; returns the time.monotonic() of pen-up."""
    box = page.locator("#lcd").bounding_box()
    scale = box["width"] / 480
    points = [(box["x"] + (x + 0.5) * scale, box["y"] + (y + 0.5) * scale) for x, y in stroke]
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        time.sleep(PEN_STEP_S)
        page.mouse.move(*point)
    time.sleep(PEN_STEP_S)
    lifted = time.monotonic()
    page.mouse.up()
    return lifted


def lcd_on_page(page) -> np.ndarray:
    """The page's LCD canvas as (height, width, 3) uint8 RGB, through a lossless PNG."""
    import base64
    import io

    from PIL import Image

    url = page.eval_on_selector("#lcd", "canvas => canvas.toDataURL('image/png')")
    png = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
