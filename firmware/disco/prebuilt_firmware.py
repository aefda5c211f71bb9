"""PlatformIO pre-script: upload mpy-mnist's two prebuilt MicroPython images instead of building anything.

With the `nobuild` target, PlatformIO's ststm32 platform uploads $BUILD_DIR/${PROGNAME}.bin as it finds it, at the
env's board_upload.offset_address (0x08000000): this script puts TEXT0 ($MPY_MNIST_FIRMWARE0) there, and TEXT1
($MPY_MNIST_FIRMWARE1) beside it as firmware1.bin, which openocd_two_images.py (the post-script) writes at 0x08020000.
"""

import os
import shutil
import sys

IMAGE_VARIABLES = ("MPY_MNIST_FIRMWARE0", "MPY_MNIST_FIRMWARE1")
STAGED_NAMES = ("${PROGNAME}.bin", "firmware1.bin")  # TEXT0 as the platform's own upload source, then TEXT1
USAGE = ("MPY_MNIST_FIRMWARE0=path/to/firmware0.bin MPY_MNIST_FIRMWARE1=path/to/firmware1.bin "
         "pio run -d firmware/disco -e stlink -t nobuild -t upload")


def stage_prebuilt(env, targets, environ):
    """Copy the prebuilt images to where the upload takes them from; refuse a run that would build."""
    if "upload" not in targets:
        return  # `pio project init`, IDE metadata and the like: nothing to upload, nothing to stage
    if "nobuild" not in targets:
        fail(env, f"this project builds nothing, it uploads prebuilt images: run\n  {USAGE}")
    sources = [environ.get(name, "") for name in IMAGE_VARIABLES]
    for name, source in zip(IMAGE_VARIABLES, sources):
        if not os.path.isfile(source):
            fail(env, f"{name}={source!r} is not a file: set {' and '.join(IMAGE_VARIABLES)} to the two images of "
                      f"the MicroPython build, as in\n  {USAGE}\nor run `mpy-mnist firmware flash --method pio`")
    # The platform falls back to "firmware" only when no pre-script chose a name; choose it here so the path is known.
    env.Replace(PROGNAME="firmware")
    for source, name in zip(sources, STAGED_NAMES):
        destination = env.subst(os.path.join("$BUILD_DIR", name))
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        shutil.copyfile(source, destination)
        print(f"Prebuilt firmware: {source} -> {destination}")


def fail(env, message):
    sys.stderr.write(f"Error: {message}\n")
    env.Exit(1)


# SCons gives every build script Import() and COMMAND_LINE_TARGETS; Import("env") defines `env` here.
Import("env")  # noqa: F821
stage_prebuilt(env, COMMAND_LINE_TARGETS, os.environ)  # noqa: F821
