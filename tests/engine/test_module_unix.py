"""The `tflite` module inside the real MicroPython unix port (built with our C modules): the same outputs as the
TFLM runtime on the real models, the documented API, clean exceptions for bad models and arguments, and memory
lent through memoryviews that stays valid after the interpreter is gone."""

import subprocess

import numpy as np
import pytest

from test_loader import MODELS, RUNNABLE, model_bytes, tflm

pytestmark = pytest.mark.unix

SCRIPT = r"""
import gc, tflite
from array import array

def fill(it):
    d = it.get_input_details(0)
    view = it.input(0)
    for i in range(len(view)):
        view[i] = (i % 13) * 0.25 - 1.0 if d['dtype'] == 'float32' else (i * 37) % 256 - 128
    return d

for name in NAMES:
    model = open(MODELS + '/' + name + '.tflite', 'rb').read()
    it = tflite.Interpreter(model)
    d = fill(it)
    it.invoke()
    out = it.get_output(0)
    assert bytes(out) == bytes(it.output(0))
    print(name, d['dtype'], d['shape'], it.arena_used == it.arena_size, ','.join(it.ops), bytes(out).hex())

try:
    tflite.Interpreter(open(MODELS + '/keyword_scrambled_8bit.tflite', 'rb').read())
except NotImplementedError as e:
    print('keyword', e)
print('OPS', ' '.join(tflite.OPS))

model = open(MODELS + '/hello_world_int8.tflite', 'rb').read()
for bad, call in ((b'', lambda: tflite.Interpreter(b'')),
                  ('size', lambda: tflite.Interpreter(model, arena_size=64)),
                  ('input', lambda: tflite.Interpreter(model).set_input(b'12', 0)),
                  ('index', lambda: tflite.Interpreter(model).get_output(3)),
                  ('wide', lambda: tflite.Interpreter(model).input(2 ** 40))):
    try:
        call()
    except (ValueError, MemoryError) as e:
        print('error', type(e).__name__, e)

counts = {}
for k in range(0, len(model), 7):
    for variant in (model[:k], model[:k] + bytes([model[k] ^ 0x10]) + model[k + 1:]):
        try:
            it = tflite.Interpreter(variant, arena_size=65536)
            fill(it)
            it.invoke()
            outcome = 'ran'
        except (ValueError, NotImplementedError, MemoryError) as e:
            outcome = type(e).__name__
        counts[outcome] = counts.get(outcome, 0) + 1
print('malformed', sorted(counts.items()))

it = tflite.Interpreter(model)
view = it.input(0)
del it
gc.collect()
junk = [bytearray(64) for _ in range(200)]
view[0] = 99
print('view', view[0], len(tflite.OPS) > 5, 'RESHAPE' in tflite.OPS)
"""


def run_script(micropython, names) -> list[str]:
    code = f"MODELS = {str(MODELS)!r}\nNAMES = {list(names)!r}\n" + SCRIPT
    result = subprocess.run([str(micropython), "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.splitlines()


def expected_input(details: dict) -> np.ndarray:
    count = int(np.prod(details["shape"]))
    i = np.arange(count)
    if details["dtype"] == np.float32:
        values = ((i % 13) * 0.25 - 1.0).astype(np.float32)
    else:
        values = ((i * 37) % 256 - 128).astype(details["dtype"])
    return values.reshape(details["shape"])


def test_tflite_module_in_the_unix_port(unix_micropython):
    lines = run_script(unix_micropython, RUNNABLE)
    for name, line in zip(RUNNABLE, lines):
        fields = line.split(" ", 4)
        assert fields[0] == name
        reference = tflm(model_bytes(name))
        reference.set_input(expected_input(reference.get_input_details(0)), 0)
        reference.invoke()
        assert bytes.fromhex(line.rsplit(" ", 1)[1]) == reference.get_output(0).tobytes(), name
        assert " True " in line  # arena_size=None sized the arena exactly
        assert fields[1] == np.dtype(reference.get_input_details(0)["dtype"]).name
    rest = "\n".join(lines[len(RUNNABLE):])
    assert "keyword unsupported op: SVDF" in rest
    module_ops = next(line for line in lines if line.startswith("OPS ")).split()[1:]
    assert "FULLY_CONNECTED" in module_ops and "SVDF" not in module_ops
    for op in module_ops:
        assert f" {op} v1-" in rest
    assert "error ValueError not a TFLite model" in rest
    assert "error MemoryError arena_size=64 is too small: this model needs" in rest
    assert "error ValueError input 0 is int8 with shape (1, 1) (1 bytes), got 2 bytes" in rest
    assert "error ValueError output index 3 out of range" in rest
    assert "error ValueError input index 1099511627776 out of range" in rest  # not cut to an int
    assert "'ran'" in rest and "'ValueError'" in rest  # both outcomes occur among the malformed variants
    assert "view 99 True True" in rest
