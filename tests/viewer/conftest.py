"""The viewer in a real browser: Debian's chromium, headless, driven by Playwright (its own browser download is
not used), against the emulated board started with the firmware of this checkout."""

import pytest

from needs import require_tool

CHROMIUM = "/usr/bin/chromium"
# Playwright adds --headless itself (headless=True).
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Chromium with a fresh profile; one for the session (it starts in seconds, the board in more)."""
    require_tool("chromium", "apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright not found: pip install playwright (Debian's chromium is used, no browser download)",
                    pytrace=False)
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS, viewport={"width": 1600, "height": 900})
        yield context
        context.close()


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
    page = browser.new_page()
    page.goto(view.url)
    page.wait_for_function("window.viewer.connected && window.viewer.frames > 0")
    yield page
    page.close()
