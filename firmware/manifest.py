# What every mpy-mnist firmware freezes (unix, emulator, disco): the device app's packages and the default model.
# MicroPython runs a manifest from its own folder, so the paths below are relative to firmware/.
# Nothing comes from micropython-lib: the Debian source the build may use has no copy of it.
import os

# paths.DEFAULT_MODEL_DIR: the model and digit set made by `mpy-mnist export --out firmware/default_model`.
_model_dir = os.path.abspath("default_model")
_device_python = os.path.abspath("../device_python")

for _name in ("mnist_model.py", "mnist_digits.py"):
    if not os.path.isfile(os.path.join(_model_dir, _name)):
        raise FileNotFoundError(
            f"default model file {_name} missing from {_model_dir}: "
            "create it with `mpy-mnist export --out firmware/default_model`"
        )
    module(_name, base_path=_model_dir)

# Every package of device_python (a folder with __init__.py); scripts such as demo.py stay out: they are run.
if os.path.isdir(_device_python):
    for _name in sorted(os.listdir(_device_python)):
        if os.path.isfile(os.path.join(_device_python, _name, "__init__.py")):
            package(_name, base_path=_device_python)
