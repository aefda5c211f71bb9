"""The device's digit-set reader and input decoder (unix port) against the host's one definition (bitmaps.py)."""

import json

import numpy as np
import pytest

from mpy_mnist import bitmaps, paths

from device_support import allocated_bytes, allocation_script, random_digits, write_digit_modules

pytestmark = pytest.mark.unix

DECODE_ALL = """
import json
from mnist import files
from mnist.decoder import Decoder
digits = files.load_digits({path!r})
out = {{"labels": list(digits.labels), "source": digits.source, "values": []}}
buf = bytearray(784 * ({dtype!r} == "float32" and 4 or 1))
decoder = Decoder(buf, {dtype!r}, {quant!r})
for i in range(digits.count):
    decoder.digit(digits, i)
    out["values"].append(decoder.values())
print(json.dumps(out))
"""


def host_input(images, dtype, scale=0.0, zero_point=0):
    """What the model's input must hold: the host's 1-bpp digit as grey 0/255, /255, then quantised."""
    real = bitmaps.to_grey(bitmaps.unpack(bitmaps.pack(images))).astype(np.float64) / 255
    if dtype == "float32":
        return real.reshape(len(images), -1)
    return np.clip(np.round(real / scale) + zero_point, -128, 127).astype(int).reshape(len(images), -1)


@pytest.mark.parametrize("scale,zero_point", [(1 / 255, -128), (0.00392156862745098, -128), (0.0078125, 0), (0.02, -3)])
def test_int8_decode_matches_host_quantisation(mpy, scale, zero_point):
    labels, images = random_digits(12, seed=1)
    write_digit_modules(mpy.workdir, labels, images)
    out = json.loads(mpy.output(DECODE_ALL.format(path=paths.DIGITS_FILE, dtype="int8", quant=(scale, zero_point))))
    assert bytes(out["labels"]) == labels
    np.testing.assert_array_equal(np.array(out["values"]), host_input(images, "int8", scale, zero_point))


def test_float_decode_matches_host(mpy):
    labels, images = random_digits(3, seed=2)
    write_digit_modules(mpy.workdir, labels, images)
    out = json.loads(mpy.output(DECODE_ALL.format(path=paths.DIGITS_FILE, dtype="float32", quant=(0.0, 0))))
    np.testing.assert_array_equal(np.array(out["values"]), host_input(images, "float32"))


def test_frozen_digits_read_like_the_file(mpy):
    labels, images = random_digits(4, seed=3)
    write_digit_modules(mpy.workdir, labels, images)
    frozen = json.loads(mpy.output(DECODE_ALL.format(path=None, dtype="int8", quant=(1 / 255, -128))))
    assert frozen["source"] == "frozen mnist_digits"  # no digits.bin in the device directory (/flash)
    np.testing.assert_array_equal(np.array(frozen["values"]), host_input(images, "int8", 1 / 255, -128))


PICK = """
from mnist import files
files.DEVICE_DIR = "flash"
d = files.load_digits(report=lambda text: print("REPORT", text))
print("SOURCE", d.source, d.count)
"""


def test_a_pushed_digit_set_beats_the_frozen_one(mpy):
    write_digit_modules(mpy.workdir, *random_digits(4, seed=4))
    (mpy.workdir / "flash").mkdir()
    labels, images = random_digits(7, seed=5)
    (mpy.workdir / "flash" / paths.DIGITS_FILE).write_bytes(bitmaps.digits_file_bytes(labels, bitmaps.pack(images)))
    assert "SOURCE flash/digits.bin 7" in mpy.output(PICK)


@pytest.mark.parametrize(
    "damage,message",
    [
        (lambda d: b"XXXX" + d[4:], "no MNDG header"),
        (lambda d: d[:4] + b"\x02" + d[5:], "version 2"),
        (lambda d: d[:5] + b"\x10" + d[6:], "16x28"),
        (lambda d: d[:-1], "expected"),
        (lambda d: d[:8] + b"\x00\x00" + d[10:], "expected"),
    ],
)
def test_a_damaged_digit_set_is_reported_and_the_frozen_one_used(mpy, damage, message):
    write_digit_modules(mpy.workdir, *random_digits(4, seed=6))
    (mpy.workdir / "flash").mkdir()
    good = (mpy.workdir / paths.DIGITS_FILE).read_bytes()
    (mpy.workdir / "flash" / paths.DIGITS_FILE).write_bytes(damage(good))
    out = mpy.output(PICK)
    assert "REPORT flash/digits.bin is unusable" in out and message in out
    assert "SOURCE frozen mnist_digits 4" in out


def test_a_label_that_is_not_a_digit_is_refused(mpy):
    labels, images = random_digits(2, seed=7)
    write_digit_modules(mpy.workdir, labels, images)
    data = bytearray((mpy.workdir / paths.DIGITS_FILE).read_bytes())
    data[10] = 12
    (mpy.workdir / "bad.bin").write_bytes(bytes(data))
    proc = mpy.run("from mnist import files\nfiles.load_digits('bad.bin')", check=False)
    assert proc.returncode != 0 and "label 12 is not a digit" in proc.stderr + proc.stdout


NO_ALLOCATION = allocation_script("""
from mnist import files
from mnist.decoder import Decoder
digits = files.load_digits()
decoder = Decoder(bytearray(784), "int8", (1 / 255, -128))
""", "decoder.digit(digits, i % digits.count)")


def test_decoding_allocates_nothing(mpy):
    write_digit_modules(mpy.workdir, *random_digits(5, seed=8))
    allocated = allocated_bytes(mpy.output(NO_ALLOCATION))
    assert allocated < 100, f"{allocated} bytes over 1,000 decodes"
