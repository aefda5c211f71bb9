"""Host <-> board on the emulated board: real QEMU, real MicroPython, real mpremote over the pty, and a /flash with
the DISCO's FAT geometry and free space (75,776 bytes when new: room for one CNN model and its digits, not two).

A quick model is pushed and run, and its predictions must equal the TFLM runtime's on the same 1-bpp digits; the
app is not sent (the firmware has it frozen); a push cut in the middle (process killed, link hung up, Ctrl-C) must
leave the previous model working when old and new fit side by side, and the frozen model when they do not (the
old model is removed first, and said so); a push that fits in neither way must be refused with the sizes.
"""

import hashlib
import re
import signal
import subprocess
import time

import numpy as np
import pytest

from boardlink import QUICK, Relay, cli, cli_popen
from needs import require_tool
from mpy_mnist import bitmaps, board, evaluate, models, paths, pipeline

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

RUN_ALL = "import mnist\nmnist.run(count={count}, delay_ms=0, sequential=True)\n"
PREDICTION = re.compile(r"digit (\d+) label (\d+) predicted (\d+)")


@pytest.fixture(scope="module")
def emulated_board():
    """A fresh emulated board for this module (its /flash starts empty)."""
    require_tool("qemu-system-arm", "apt-get install qemu-system-arm (or bash scripts/setup.sh)")
    require_tool("arm-none-eabi-gcc", "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi")
    from mpy_mnist import emulator

    with emulator.start() as emulated:
        yield emulated


@pytest.fixture(scope="module")
def quick_model():
    """The export dir of a quick model, from the train-and-push cache."""
    return pipeline.trained_export(QUICK, log=lambda text: None)[0]


# The model before a push: the committed default model (also frozen into the firmware; the tests tell the pushed
# file from the frozen copy by the sha256 of /flash/model.tflite and by the "model:" line mnist.run prints). It
# and the quick model (both CNNs) do not fit side by side on the DISCO's /flash.
OLD = paths.DEFAULT_MODEL_DIR
REPLACING = "has no room for the new files beside the old ones: removing the old model.tflite, digits.bin first"


@pytest.fixture(scope="module")
def small_old(tmp_path_factory):
    """An export small enough to sit beside the quick model: TFLM's hello_world model (which the app cannot run:
    pushed with --force, the board then runs its frozen model) and the first default digit."""
    export_dir = tmp_path_factory.mktemp("small-old")
    (export_dir / paths.MODEL_FILE).write_bytes(
        (paths.REPO_ROOT / "tests" / "engine" / "models" / "hello_world_int8.tflite").read_bytes())
    labels, packed = bitmaps.read_digits_path(OLD / paths.DIGITS_FILE)
    bitmaps.write_digits_file(export_dir / paths.DIGITS_FILE, labels[:1], packed[: bitmaps.DIGIT_BYTES])
    return export_dir


def board_output(port, source):
    """What MicroPython source prints on the board."""
    out = bytearray()
    board.run(port, source.encode(), output=out.extend)
    return out.decode()


def model_sha256_on_board(port):
    return board_output(port, f"import hashlib, binascii\nh = hashlib.sha256()\n"
                              f"h.update(open('{paths.DEVICE_DIR}/{paths.MODEL_FILE}', 'rb').read())\n"
                              f"print(binascii.hexlify(h.digest()).decode())\n").strip()


def tflm_predictions(export_dir, count):
    """The TFLM runtime's predictions for the first `count` exported 1-bpp digits, fed as the board feeds them."""
    _, packed = bitmaps.read_digits_path(export_dir / paths.DIGITS_FILE)
    x = models.to_model_input(bitmaps.to_grey(bitmaps.unpack(packed)))[:count]
    return evaluate.predict_tflm((export_dir / paths.MODEL_FILE).read_bytes(), x).tolist()


def board_predictions(port, count):
    """The board's predictions for its first `count` digits, from mnist.run's lines."""
    text = board_output(port, RUN_ALL.format(count=count))
    assert f"model: {paths.DEVICE_DIR}/{paths.MODEL_FILE}" in text, text
    found = PREDICTION.findall(text)
    assert [int(index) for index, _, _ in found] == list(range(count)), text
    return [int(predicted) for _, _, predicted in found]


def sha256_hex(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fill_flash(port, leave):
    """Fill /flash with filler.bin until about `leave` bytes are free."""
    board_output(port, f"""
import os
s = os.statvfs('{paths.DEVICE_DIR}')
filler = s[0] * s[4] - {leave}
with open('{paths.DEVICE_DIR}/filler.bin', 'wb') as f:
    block = bytes(4096)
    while filler > 0:
        f.write(block[:min(4096, filler)])
        filler -= 4096
""")


def push(port, export_dir, *options):
    result = cli("push", "--port", port, "--from", str(export_dir), *options)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def flash_listing(port):
    return board_output(port, f"import os\nprint(sorted(os.listdir('{paths.DEVICE_DIR}')))\n")


def test_push_sends_the_model_and_digits_and_runs_like_tflm(emulated_board, quick_model):
    export_dir = quick_model
    result = push(emulated_board.port, export_dir)
    model_size = (export_dir / paths.MODEL_FILE).stat().st_size
    digits_size = (export_dir / paths.DIGITS_FILE).stat().st_size
    assert f"pushed 2 files, {model_size + digits_size} bytes, each checked with sha256 on the board" in result.stdout
    assert REPLACING not in result.stdout  # a new board: nothing to replace

    assert model_sha256_on_board(emulated_board.port) == sha256_hex(export_dir / paths.MODEL_FILE)
    assert board_predictions(emulated_board.port, QUICK["count"]) == tflm_predictions(export_dir, QUICK["count"])
    # The app was not sent: the board ran the copy frozen into its firmware.
    listing = flash_listing(emulated_board.port)
    assert "'mnist'" not in listing and "'display'" not in listing, listing


def test_a_push_that_fits_only_in_place_of_the_old_model_replaces_it(emulated_board, quick_model):
    """The default model, then the quick one: each time the old model and digits are removed first (the push says
    so), and the board runs the new model."""
    for old, new in ((quick_model, OLD), (OLD, quick_model)):
        push(emulated_board.port, old)
        result = push(emulated_board.port, new)
        assert REPLACING in result.stdout, result.stdout
        assert "until the push completes, the board runs its built-in model and digits" in result.stdout
        assert model_sha256_on_board(emulated_board.port) == sha256_hex(new / paths.MODEL_FILE)
        assert board_predictions(emulated_board.port, 10) == tflm_predictions(new, 10)


def test_an_interrupted_replacement_leaves_the_board_on_its_frozen_model(emulated_board, quick_model):
    push(emulated_board.port, OLD)
    new_model = (quick_model / paths.MODEL_FILE).read_bytes()
    process = None
    relay = Relay(emulated_board.port, cut_after=5000 + len(new_model) * 4 // 3 // 2, on_cut=lambda: process.kill())
    try:
        process = cli_popen("push", "--port", relay.port, "--from", str(quick_model))
        output = process.communicate(timeout=300)[0].decode()
    finally:
        relay.close()
    assert relay.sent >= relay.cut_after and process.returncode != 0, output
    assert REPLACING in output, output

    text = board_output(emulated_board.port, RUN_ALL.format(count=10))
    assert "model: frozen mnist_model" in text, text
    assert [int(p) for _, _, p in PREDICTION.findall(text)] == tflm_predictions(OLD, 10)  # the frozen = default

    push(emulated_board.port, quick_model)  # and the next push completes over the leftovers
    assert model_sha256_on_board(emulated_board.port) == sha256_hex(quick_model / paths.MODEL_FILE)
    assert board.TEMP_SUFFIX not in flash_listing(emulated_board.port)


@pytest.mark.parametrize("cut", ["kill the push", "hang up the link"])
def test_push_cut_midway_keeps_the_old_model(emulated_board, quick_model, small_old, cut):
    """Old and new fit side by side: the push stages the new files beside the old ones."""
    old, new = small_old, quick_model
    push(emulated_board.port, old, "--force")
    new_model = (new / paths.MODEL_FILE).read_bytes()
    assert new_model != (old / paths.MODEL_FILE).read_bytes()

    # The model is copied first, base64 in 2 KB chunks: cut when about half of it has gone.
    process = None
    relay = None

    def on_cut():
        if cut == "kill the push":
            process.kill()
        else:
            relay.hang_up()

    relay = Relay(emulated_board.port, cut_after=3000 + len(new_model) * 4 // 3 // 2, on_cut=on_cut)
    try:
        process = cli_popen("push", "--port", relay.port, "--from", str(new))
        output = process.communicate(timeout=300)[0].decode()
    finally:
        relay.close()
    assert relay.sent >= relay.cut_after  # the cut happened mid-transfer, not after the push
    assert process.returncode != 0, output
    if cut == "hang up the link":
        assert "Error:" in output and relay.port in output, output

    assert REPLACING not in output, output
    assert model_sha256_on_board(emulated_board.port) == sha256_hex(old / paths.MODEL_FILE)

    push(emulated_board.port, new)  # and the next push completes over the leftovers
    assert model_sha256_on_board(emulated_board.port) == sha256_hex(new / paths.MODEL_FILE)
    assert board.TEMP_SUFFIX not in flash_listing(emulated_board.port)


def test_ctrl_c_during_a_push_says_so_and_keeps_the_old_model(emulated_board, quick_model, small_old):
    old, new = small_old, quick_model
    push(emulated_board.port, old, "--force")
    new_model = (new / paths.MODEL_FILE).read_bytes()
    interrupted_at = []

    def ctrl_c():
        interrupted_at.append(time.monotonic())
        process.send_signal(signal.SIGINT)

    # Ctrl-C when about half of the model has gone (the relay stops forwarding there, as a slow link would)
    relay = Relay(emulated_board.port, cut_after=3000 + len(new_model) * 4 // 3 // 2, on_cut=ctrl_c)
    try:
        # SIGINT as a terminal's Ctrl-C delivers it (a shell's background job would have it ignored)
        process = cli_popen("push", "--port", relay.port, "--from", str(new),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        output = process.communicate(timeout=300)[0].decode()
        stopped = time.monotonic()
    finally:
        relay.close()
    assert interrupted_at, output
    assert process.returncode == 130, output
    assert "interrupted" in output and "the board keeps its previous model" in output, output
    assert stopped - interrupted_at[0] <= 2, stopped - interrupted_at[0]
    assert model_sha256_on_board(emulated_board.port) == sha256_hex(old / paths.MODEL_FILE)


def test_full_flash_is_refused_and_the_old_model_kept(emulated_board, quick_model, small_old):
    """Other files leave too little room even without the old model and digits: refused before writing."""
    old, new = small_old, quick_model
    push(emulated_board.port, old, "--force")
    fill_flash(emulated_board.port, leave=(new / paths.MODEL_FILE).stat().st_size // 2)
    try:
        result = cli("push", "--port", emulated_board.port, "--from", str(new))
        assert result.returncode == 1
        message = result.stderr
        assert len(message.strip().splitlines()) == 1, message
        assert f"{paths.DEVICE_DIR} on {emulated_board.port} is full" in message, message
        free = int(re.search(r"only (\d+) bytes are free", message).group(1))
        needed = int(re.search(r"the push needs (\d+) bytes", message).group(1))
        freed = int(re.search(r"even without the old model and digits \((\d+) bytes\)", message).group(1))
        assert needed > free + freed
        assert REPLACING not in result.stdout
        assert model_sha256_on_board(emulated_board.port) == sha256_hex(old / paths.MODEL_FILE)
    finally:
        board_output(emulated_board.port, f"import os\nos.remove('{paths.DEVICE_DIR}/filler.bin')\n")


def test_run_defaults_to_the_demo_and_reports_a_script_that_raises(emulated_board, tmp_path):
    demo = cli("run", "--port", emulated_board.port)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert len(PREDICTION.findall(demo.stdout)) == 10
    assert re.search(r"^10 digits, \d+ right", demo.stdout, re.MULTILINE), demo.stdout

    script = tmp_path / "fails.py"
    script.write_text("print('before')\nraise ValueError('on purpose')\n")
    failed = cli("run", "--port", emulated_board.port, str(script))
    assert failed.returncode == 1
    assert "before" in failed.stdout
    assert "the script failed on the board" in failed.stderr and "ValueError: on purpose" in failed.stderr


def test_a_write_that_runs_out_of_space_is_undone(emulated_board, quick_model, monkeypatch):
    """ENOSPC from the board's filesystem in the middle of a copy (the space check is told the files need no room,
    so the copy starts and littlefs itself refuses): the staged files are removed and the old model kept."""
    old, new = OLD, quick_model
    push(emulated_board.port, old)
    fill_flash(emulated_board.port, leave=(new / paths.MODEL_FILE).stat().st_size // 2)
    try:
        monkeypatch.setattr(board, "SPARE_BLOCKS", -10_000)
        with pytest.raises(board.BoardError, match=f"{paths.DEVICE_DIR} on {emulated_board.port} is full"):
            board.push(emulated_board.port, pipeline.push_plan(new))
        listing = board_output(emulated_board.port, f"import os\nprint(os.listdir('{paths.DEVICE_DIR}'))\n")
        assert board.TEMP_SUFFIX not in listing, listing
        assert model_sha256_on_board(emulated_board.port) == sha256_hex(old / paths.MODEL_FILE)
    finally:
        board_output(emulated_board.port, f"import os\nos.remove('{paths.DEVICE_DIR}/filler.bin')\n")


def test_ports_lists_the_running_emulator_and_commands_find_it(quick_model):
    """`mpy-mnist emulate` in the background, as a user runs it in another terminal."""
    emulate = cli_popen("emulate")
    try:
        port = None
        for line in emulate.stdout:
            match = re.search(rb"Serial port: (\S+)", line)
            if match:
                port = match.group(1).decode()
                break
        assert port, "mpy-mnist emulate did not print its serial port"
        listed = cli("ports")
        assert f"{port}\temulated board" in listed.stdout, listed.stdout
        pushed = cli("push", "--port", "emulator", "--from", str(quick_model))
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        assert f"push to {port}" in pushed.stderr
        assert model_sha256_on_board(port) == sha256_hex(quick_model / paths.MODEL_FILE)
    finally:
        emulate.send_signal(signal.SIGTERM)
        emulate.communicate(timeout=60)


def test_train_and_push_on_the_emulator_shows_the_lcd(quick_model, tmp_path):
    """The README's main command, with the quick options: cached model, own emulator, push, run, screenshot."""
    picture = tmp_path / "lcd.png"
    result = cli("train-and-push", "--port", "emulator", "--model", QUICK["model"], "--epochs", str(QUICK["epochs"]),
                 "--train-subset", str(QUICK["train_subset"]), "--digits", str(QUICK["count"]),
                 "--seed", str(QUICK["seed"]),
                 "--run", "5", "--delay-ms", "0", "--screenshot", str(picture))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(cached: same options, data and code)" in result.stdout
    assert len(PREDICTION.findall(result.stdout)) == 5
    assert f"the emulated board's LCD: {picture.resolve()}" in result.stdout
    from PIL import Image

    pixels = np.asarray(Image.open(picture))
    assert pixels.shape[:2] == (272, 480)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 2  # a drawn screen, not a blank one
