"""MicroPython's run-tests convention for small device behaviours: each tests/unix/NAME.py with a NAME.py.exp
beside it runs on the unix port and must print exactly that."""

import pytest

from device_support import UNIX_HELPERS

pytestmark = pytest.mark.unix

SCRIPTS = sorted(p for p in UNIX_HELPERS.glob("*.py") if p.with_suffix(".py.exp").exists())


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_script_prints_what_is_expected(mpy, script):
    assert mpy.output(script.read_text()) == script.with_suffix(".py.exp").read_text()
