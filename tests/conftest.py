"""Shared test helpers. Tests are tiered by what they need (host only, unix port, emulator); a tier whose tool is
missing fails with a message saying how to install it, never a silent skip."""

import shutil

import pytest


def require_tool(name: str, how: str) -> str:
    """Path of an executable, or fail the test saying how to install it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: {how}", pytrace=False)
    return path
