"""The emulated board in a real browser: the page shows its LCD live and its console, and digits drawn on the page
with the mouse are read by the board's own mnist.draw()."""

import hashlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from viewer_support import ONE, SEVEN, ZERO, console, draw, lcd_on_page, start_mpremote, wait_for_console

from mpy_mnist import emulator, paths, viewer

pytestmark = [pytest.mark.emulator, pytest.mark.browser]

ANSWER_GAP_S = 2.5  # draw() shows an answer for 1.5 s before it clears the box for the next digit


def test_page_shows_the_lcd_as_mnist_run_runs(board, page):
    run = start_mpremote(board.port, "exec", "import mnist; mnist.run(count=8, delay_ms=300)")
    seen = set()
    deadline = time.monotonic() + 120
    while run.poll() is None:
        assert time.monotonic() < deadline, "mnist.run(count=8) did not finish within 120 s"
        seen.add(hashlib.sha256(lcd_on_page(page).tobytes()).hexdigest())
        time.sleep(0.1)
    assert run.returncode == 0, run.stdout.read()
    assert len(seen) >= 5, f"the page showed {len(seen)} different LCD pictures over 8 digits"
    time.sleep(3 / viewer.FRAME_HZ)  # the last frame on its way
    np.testing.assert_array_equal(lcd_on_page(page), board.lcd_pixels())
    wait_for_console(page, "8 digits, ")  # run()'s summary line, on the page's console
    assert page.text_content("#port") == board.port  # in the page's hint for starting mnist.draw()


def test_frames_per_second_while_inference_runs(board, page):
    run = start_mpremote(board.port, "exec", "import mnist; mnist.run(count=1000, delay_ms=0)")
    wait_for_console(page, "predicted", count=20)
    frames, started = page.evaluate("window.viewer.frames"), time.monotonic()
    time.sleep(4)
    fps = (page.evaluate("window.viewer.frames") - frames) / (time.monotonic() - started)
    assert run.wait(timeout=300) == 0
    summary = re.search(r"1000 digits, .* mean inference (\d+) us", run.stdout.read())
    print(f"\nviewer: {fps:.1f} frames/s on the page while mnist.run(delay_ms=0) ran; board's mean inference "
          f"{summary.group(1)} us")
    assert fps >= 10


def test_pen_lands_on_the_board_pixel_under_it(board, page):
    memory = board.shared_memory()
    touch = emulator.board_constant("TOUCH_ADDRESS")

    def pen_becomes(word):
        deadline = time.monotonic() + 10
        while int.from_bytes(memory.read(touch, 4), "little") != word:
            assert time.monotonic() < deadline, f"the board's touch word never became {word:#x}"
            time.sleep(0.01)

    box = page.locator("#lcd").bounding_box()
    scale = box["width"] / 480
    try:
        for (x, y), action in zip([(0, 0), (479, 271), (130, 200), (17, 250)], ["down", "move", "move", "up"]):
            page.mouse.move(box["x"] + (x + 0.5) * scale, box["y"] + (y + 0.5) * scale)
            if action == "down":
                page.mouse.down()
            elif action == "up":
                page.mouse.up()
            pen_becomes(emulator.touch_word(x, y, action != "up"))
    finally:
        memory.close()


def test_digits_drawn_on_the_page_are_read_by_the_board(board, page):
    drawing = start_mpremote(board.port, "exec", "import mnist; mnist.load_model(); print('ready to draw'); "
                             "print('predictions', mnist.draw(rounds=3))")
    wait_for_console(page, "ready to draw", count=console(page).count("ready to draw") + 1)
    time.sleep(1)  # draw() clears the screen and starts polling the panel
    delays = []
    for round_, (stroke, digit) in enumerate([(ONE, 1), (SEVEN, 7), (ZERO, 0)], start=1):
        before = console(page).count("drawn digit:")
        lifted = draw(page, stroke)
        wait_for_console(page, "drawn digit:", count=before + 1)
        delays.append(time.monotonic() - lifted)
        answer = re.findall(r"drawn digit: predicted (\d)", console(page))[-1]
        assert int(answer) == digit, f"a {digit} drawn on the page was read as {answer}"
        time.sleep(ANSWER_GAP_S)
    assert drawing.wait(timeout=60) == 0
    assert "predictions [1, 7, 0]" in drawing.stdout.read()
    print(f"\nviewer: pen-up to the answer on the page {min(delays):.2f}-{max(delays):.2f} s (draw() waits "
          "0.8 s for the pen to stay up)")


def test_page_survives_a_board_reset(board, page):
    banners = console(page).count("MicroPython v")
    board.reset()
    wait_for_console(page, "MicroPython v", count=banners + 1)
    frames = page.evaluate("window.viewer.frames")
    drawing = start_mpremote(board.port, "exec", "import mnist; print('predictions', mnist.draw(rounds=1))")
    page.wait_for_function("frames => window.viewer.frames > frames", arg=frames, timeout=60_000)  # draw's screen
    time.sleep(1)
    draw(page, ONE)
    assert drawing.wait(timeout=60) == 0
    assert "predictions [1]" in drawing.stdout.read()
    assert page.evaluate("window.viewer.connected")


def test_page_reconnects_to_a_restarted_viewer(board, browser):
    first = viewer.serve(board, port=0, log=lambda _: None)
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    try:
        page.goto(first.url)
        page.wait_for_function("window.viewer.connected && window.viewer.frames > 0")
        first.stop()
        page.wait_for_function("!window.viewer.connected")
        assert "reconnecting" in page.text_content("#status")
        frames = page.evaluate("window.viewer.frames")
        with viewer.serve(board, port=first.port, log=lambda _: None):
            page.wait_for_function("frames => window.viewer.connected && window.viewer.frames > frames", arg=frames,
                                   timeout=10_000)
    finally:
        first.stop()
        page.close()


def test_recording_is_the_lcd_as_it_went(board, tmp_path):
    from PIL import Image

    with viewer.Recorder(board) as recording:
        assert start_mpremote(board.port, "exec", "import mnist; mnist.run(count=3, delay_ms=300)").wait(60) == 0
        time.sleep(3 / viewer.FRAME_HZ)
    path = recording.save(tmp_path / "run.png")
    with Image.open(path) as animation:
        assert animation.n_frames == len(recording.frames) >= 3
        animation.seek(animation.n_frames - 1)
        np.testing.assert_array_equal(np.asarray(animation.convert("RGB")), board.lcd_pixels())
        assert animation.info["duration"] == 3000  # the last frame held


def _non_loopback_address() -> str:
    """This machine's address on its network (where a packet to another host would leave from)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent, only the route is looked up
        return probe.getsockname()[0]


def test_only_loopback_is_served(view):
    address = _non_loopback_address()
    assert not viewer.is_loopback(address)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address, view.port), timeout=5)
    assert not view.server.verify_request(None, (address, 40000))

    def get(path, **headers):
        connection = http.client.HTTPConnection("127.0.0.1", view.port, timeout=10)
        connection.request("GET", path, headers=headers)
        status = connection.getresponse().status
        connection.close()
        return status

    assert get("/") == 200
    assert get("/", Host=f"localhost:{view.port}") == 200
    # Another site's page that reaches 127.0.0.1 through a name of its own, or opens a WebSocket to us.
    assert get("/", Host=f"example.com:{view.port}") == 403
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
               "Sec-WebSocket-Version": "13"}
    assert get("/board", Origin="http://example.com", **upgrade) == 403
    assert get("/board", Origin=f"http://127.0.0.1:{view.port}", **upgrade) == 101


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stopping_emulate_leaves_no_qemu_and_no_server(emulator_firmware, tmp_path, stop_signal):
    env = dict(os.environ, PYTHONPATH=str(paths.REPO_ROOT / "host"), MPY_MNIST_CACHE=str(tmp_path))
    emulate = subprocess.Popen([sys.executable, "-m", "mpy_mnist", "emulate", "--view", "--http-port", "0",
                                "--firmware", str(emulator_firmware)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=env)
    printed = ""
    try:
        while "Stop with Ctrl-C" not in printed:
            line = emulate.stdout.readline()
            assert line, f"emulate ended early:\n{printed}"
            printed += line
        qemu = int(re.search(r"pid (\d+)", printed).group(1))
        url = re.search(r"http://127\.0\.0\.1:(\d+)/", printed)
        connection = http.client.HTTPConnection("127.0.0.1", int(url.group(1)), timeout=10)
        connection.request("GET", "/")
        assert connection.getresponse().status == 200
        connection.close()
        emulate.send_signal(stop_signal)
        assert emulate.wait(timeout=30) == 0, emulate.stdout.read()
    finally:
        emulate.kill()
    with pytest.raises(ProcessLookupError):
        os.kill(qemu, 0)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(url.group(1))), timeout=5)
