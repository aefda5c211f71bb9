"""MicroPython's own test suite (tests/run-tests.py of the source we build from) against the emulator firmware,
driven over QEMU's pty the way the qemu port's `make test` does it."""

import os
import re
import signal
import subprocess
import sys

import pytest

from mpy_mnist import emulator, firmware

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

# The language core, floats (single precision, on the FPU), MicroPython specifics and the extension modules
# (framebuf, json, hashlib, vfs, re, ...) plus misc: about 850 tests in 2-4 minutes. run-tests.py skips by itself
# what the target lacks (it probes for features, and knows the qemu platform's exclusions).
SUITE_DIRS = ("basics", "float", "micropython", "extmod", "misc")


def unittest_based_tests(tests_dir):
    """Tests written with unittest, which the qemu port freezes from micropython-lib: our source has none of
    micropython-lib (Debian's tarball ships it empty), so those tests cannot run and are excluded by name."""
    names = []
    for directory in SUITE_DIRS:
        for test in sorted((tests_dir / directory).glob("*.py")):
            if re.search(r"^\s*(import|from) unittest\b", test.read_text(errors="replace"), re.M):
                names.append(f"{directory}/{test.stem}")
    return names


# -icount with sleep=off: time follows the instructions and idle periods jump straight to the next timer event,
# so a busy machine cannot stretch the timing tests' intervals. Without -icount (how users run the board) time is
# the host's: the clock must still never step back (time_time_ns caught it doing so while the host was busy).
CLOCKS = {"icount": ["-icount", "shift=0,sleep=off"], "host-time": []}


@pytest.mark.parametrize("clock", CLOCKS)
def test_micropython_suite_passes_on_the_emulator(emulator_firmware, tmp_path, clock):
    tests_dir = firmware.source_dir() / "tests"
    qemu = " ".join([emulator.QEMU, "-machine", emulator.MACHINE, "-cpu", emulator.CPU, "-nographic",
                     "-monitor", "none", "-semihosting", "-serial", "pty", *CLOCKS[clock],
                     "-kernel", str(emulator_firmware)])
    cmd = [sys.executable, "run-tests.py", "-t", f"execpty:{qemu}", "-r", str(tmp_path / "results"),
           "-d", *SUITE_DIRS]
    excluded = unittest_based_tests(tests_dir)
    if excluded:
        cmd += ["-e", "^(" + "|".join(re.escape(name) for name in excluded) + r")\.py$"]
    # Its own session, so that QEMU (which run-tests starts) goes too if we have to stop it.
    runner = subprocess.Popen(cmd, cwd=tests_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    try:
        output, _ = runner.communicate(timeout=600)
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()
    summary = "\n".join(line for line in output.splitlines() if not line.startswith(("pass ", "skip ")))
    passed = re.search(r"^(\d+) tests passed", output, re.M)
    failed = re.search(r"^(\d+) tests failed", output, re.M)
    performed = re.search(r"^(\d+) tests performed", output, re.M)
    print(f"\nrun-tests.py on the emulator ({clock}): {performed and performed.group(1)} performed, "
          f"{passed and passed.group(1)} passed, {len(excluded)} excluded (unittest)")
    assert runner.returncode == 0 and failed is None, summary
    assert passed and int(passed.group(1)) > 500, summary
