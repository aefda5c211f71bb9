"""PlatformIO pre-script: upload mpy-mnist's prebuilt MicroPython image instead of building one.

With the `nobuild` target, PlatformIO's ststm32 platform uploads $BUILD_DIR/${PROGNAME}.bin as it finds it; this
script puts our image there before the platform's own script runs. The image is named by $MPY_MNIST_FIRMWARE_BIN.
"""

import os
import shutil
import sys

BIN_VARIABLE = "MPY_MNIST_FIRMWARE_BIN"
USAGE = f"{BIN_VARIABLE}=path/to/firmware.bin pio run -d firmware/disco -e stlink -t nobuild -t upload"


def stage_prebuilt(env, targets, environ):
    """Copy the prebuilt image to where the platform's upload takes it from; refuse a run that would build."""
    if "upload" not in targets:
        return  # `pio project init`, IDE metadata and the like: nothing to upload, nothing to stage
    if "nobuild" not in targets:
        fail(env, f"this project builds nothing, it uploads a prebuilt image: run\n  {USAGE}")
    source = environ.get(BIN_VARIABLE, "")
    if not os.path.isfile(source):
        fail(env, f"{BIN_VARIABLE}={source!r} is not a file: set it to the MicroPython firmware.bin, as in\n"
                  f"  {USAGE}\nor run `mpy-mnist firmware flash --method pio`")
    # The platform falls back to "firmware" only when no pre-script chose a name; choose it here so the path is known.
    env.Replace(PROGNAME="firmware")
    destination = env.subst(os.path.join("$BUILD_DIR", "${PROGNAME}.bin"))
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    shutil.copyfile(source, destination)
    print(f"Prebuilt firmware: {source} -> {destination}")


def fail(env, message):
    sys.stderr.write(f"Error: {message}\n")
    env.Exit(1)


# SCons gives every build script Import() and COMMAND_LINE_TARGETS; Import("env") defines `env` here.
Import("env")  # noqa: F821
stage_prebuilt(env, COMMAND_LINE_TARGETS, os.environ)  # noqa: F821
