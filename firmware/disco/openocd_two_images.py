"""PlatformIO post-script: make the ststm32 platform's OpenOCD upload write both images, each at its own address.

The platform's upload ends OpenOCD's arguments with `-c "program {$SOURCE} <offset> verify reset; shutdown;"`: one
image, TEXT0. This script replaces that command with two `program` commands, TEXT0 at 0x08000000 and TEXT1
(staged as $BUILD_DIR/firmware1.bin by prebuilt_firmware.py) at 0x08020000, the board reset only after the second.
Each `program` erases only the sectors its own image covers, with any OpenOCD release. One .hex holding both would
depend on the release: older ones pad the gap between two sections of one flash bank and erase it along with them
(newer ones stop at a gap of whole sectors), and that gap is MicroPython's /flash.
"""

import sys

TEXT1 = "$BUILD_DIR/firmware1.bin"
TEXT1_ADDRESS = "0x08020000"  # MicroPython's TEXT1_ADDR for the STM32F746 (boards/STM32F7DISC/mpconfigboard.mk)


def program_both(env, targets):
    if "upload" not in targets:
        return
    flags = list(env.get("UPLOADERFLAGS", []))
    found = [i for i, flag in enumerate(flags) if str(flag).startswith("program {$SOURCE}")]
    if len(found) != 1 or flags[found[0] - 1] != "-c":
        sys.stderr.write("Error: the ststm32 platform's OpenOCD upload no longer ends in `-c \"program {$SOURCE} "
                         "...\"`; refusing to upload only one of the two images\n")
        env.Exit(1)
    offset = env.BoardConfig().get("upload.offset_address")
    flags[found[0]] = (f"program {{$SOURCE}} {offset} verify; program {{{TEXT1}}} {TEXT1_ADDRESS} verify reset; "
                       "shutdown;")
    env.Replace(UPLOADERFLAGS=flags)


Import("env")  # noqa: F821
program_both(env, COMMAND_LINE_TARGETS)  # noqa: F821
