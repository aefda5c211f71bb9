"""The one place that names where things live: the repository, the cache, the work directory, the pinned versions."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEVICE_PYTHON_DIR = REPO_ROOT / "device_python"
FIRMWARE_DIR = REPO_ROOT / "firmware"
CMODULES_DIR = REPO_ROOT / "cmodules"
ENGINE_DIR = CMODULES_DIR / "tflite" / "engine"

MICROPYTHON_VERSION = "1.25.0"


def cache_dir() -> Path:
    """Downloads and builds that outlive a checkout: MNIST, MicroPython source, firmware."""
    return Path(os.environ.get("MPY_MNIST_CACHE", Path.home() / ".cache" / "mpy-mnist"))


def work_dir() -> Path:
    """Where commands write their products (model, exports, reports) unless told otherwise."""
    return Path(os.environ.get("MPY_MNIST_WORK", "build"))


def default_model_path() -> Path:
    return work_dir() / "model.tflite"


# The model and digit set frozen into every firmware: produced by `mpy-mnist export --out firmware/default_model`
# from the default training run, and committed so that firmware builds need no training.
DEFAULT_MODEL_DIR = FIRMWARE_DIR / "default_model"

# File names shared by export (host), push (host -> /flash) and the device app.
MODEL_FILE = "model.tflite"            # the model, as the .tflite flatbuffer
DIGITS_FILE = "digits.bin"             # the digit set (format: bitmaps.py)
MODEL_MODULE = "mnist_model.py"        # MODEL = b"..." (freezable: the model sits in flash)
DIGITS_MODULE = "mnist_digits.py"      # LABELS = b"...", BITMAPS = b"..." (freezable)
DEVICE_DIR = "/flash"                  # where push puts files on the board and the emulator

# Where `mpy-mnist emulate --view` serves the emulated board's page (on 127.0.0.1; --http-port overrides).
VIEWER_HTTP_PORT = 8480
