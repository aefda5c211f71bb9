# What every mpy-mnist firmware freezes (unix, emulator, disco): the device app's packages. The default model and
# digit set (modules mnist_model and mnist_digits) are added by the manifest firmware.py writes into each build
# directory, which generates them from firmware/default_model/model.tflite and digits.bin.
# MicroPython runs a manifest from its own folder, so the path below is relative to firmware/.
# Nothing comes from micropython-lib: the Debian source the build may use has no copy of it.
import os

_device_python = os.path.abspath("../device_python")

# Every package of device_python (a folder with __init__.py); scripts such as demo.py stay out: they are run.
if os.path.isdir(_device_python):
    for _name in sorted(os.listdir(_device_python)):
        if os.path.isfile(os.path.join(_device_python, _name, "__init__.py")):
            package(_name, base_path=_device_python)
