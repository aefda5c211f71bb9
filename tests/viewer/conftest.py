"""The viewer in a real browser: Debian's chromium, headless, driven by Playwright (its own browser download is
not used), against the emulated board started with the firmware of this checkout."""

import pytest

from needs import require_tool
from viewer_support import launch_chromium


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, headless, one for the session (it starts in seconds, the board in more)."""
    require_tool("chromium", "apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright not found: pip install playwright (Debian's chromium is used, no browser download)",
                    pytrace=False)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def board(emulator_firmware):
    from mpy_mnist import emulator

    with emulator.start(emulator_firmware) as emu:
        yield emu


@pytest.fixture(scope="module")
def view(board):
    from mpy_mnist import viewer

    with viewer.serve(board, port=0, log=lambda _: None) as served:
        yield served


@pytest.fixture
def page(browser, view):
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    page.goto(view.url)
    page.wait_for_function("window.viewer.connected && window.viewer.frames > 0")
    yield page
    page.close()
