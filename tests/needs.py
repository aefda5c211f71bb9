"""What a test tier needs from the machine. A missing tool fails the test with the way to install it, never a silent
skip. Test modules import this by name (`from needs import require_tool`); conftest.py files are not importable
reliably, since pytest loads one per folder under the same module name."""

import shutil

import pytest


def require_tool(name: str, how: str) -> str:
    """Path of an executable, or fail the test saying how to install it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: {how}", pytrace=False)
    return path
