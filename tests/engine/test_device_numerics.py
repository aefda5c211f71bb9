"""The device's exp for float SOFTMAX and LOGISTIC (quant.c: tfl_expf_via_double, plain IEEE double arithmetic,
so its bits here are its bits on the Cortex-M7) against the host C library's expf, which the TFLM runtime uses."""

import ctypes
import ctypes.util

import numpy as np

from mpy_mnist import engine


def test_device_expf_matches_the_reference_expf_to_the_last_bit_almost_always():
    lib = engine.load_library()
    ours = lib.tfl_expf_via_double
    ours.restype, ours.argtypes = ctypes.c_float, [ctypes.c_float]
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    reference = libm.expf
    reference.restype, reference.argtypes = ctypes.c_float, [ctypes.c_float]
    xs = np.concatenate([np.linspace(-110, 95, 100_000, dtype=np.float32),
                         np.random.default_rng(0).uniform(-20, 20, 100_000).astype(np.float32)])
    got = np.array([ours(float(x)) for x in xs], np.float32)
    want = np.array([reference(float(x)) for x in xs], np.float32)
    ulps = np.abs(got.view(np.int32).astype(np.int64) - want.view(np.int32).astype(np.int64))
    assert ulps.max() <= 1, f"off by {ulps.max()} ulps at x={xs[np.argmax(ulps)]}"
    assert np.count_nonzero(ulps) <= 0.002 * len(xs), f"{np.count_nonzero(ulps)} of {len(xs)} differ by 1 ulp"
    assert np.isinf(ours(100.0)) and ours(-200.0) == 0.0 and np.isnan(ours(float("nan")))
