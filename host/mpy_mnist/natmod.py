"""The engine on a board that runs stock MicroPython: which native module (tflite.mpy) the board can load, the mip
package that brings it with the app, the model and the digits, and its installation with `mpremote mip install`.

    natmod.install(port, export_dir)     # detect the board's arch, build tflite.mpy for it, package, install

The board's `sys.implementation._mpy` names the .mpy version it loads and its native architecture; a firmware that
cannot load native code has no architecture there (or no `_mpy` at all). Every check happens before anything is
written to the board.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

from . import board, firmware, paths, pipeline

# MicroPython's native architectures in the order of py/persistentcode.h (the index is what .mpy headers and
# sys.implementation._mpy carry).
ARCH_NAMES = ("none", "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp", "xtensa",
              "xtensawin", "rv32imc")
MPY_VERSION = 6       # MicroPython 1.25's .mpy format
MPY_SUB_VERSION = 3   # ... and the native ABI of its mp_fun_table

# A Thumb firmware loads native code of its own architecture and of the Thumb architectures below it
# (MPY_FEATURE_ARCH_TEST); for each board arch, the arch of the tflite.mpy we build for it.
NATMOD_FOR_BOARD = {"x64": "x64", "armv7m": "armv7m", "armv7em": "armv7m", "armv7emsp": "armv7emsp",
                    "armv7emdp": "armv7emsp"}
THUMB_ARCHS = ("armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp")

PACKAGE_DIR_NAME = "natmod-package"


class InstallError(board.BoardError):
    """The board cannot take the native module; the message says why and what to do."""


def parse_mpy_header(data: bytes) -> tuple[int, int, str]:
    """(version, sub-version, arch name) of a .mpy file's first bytes."""
    if len(data) < 4 or data[0:1] != b"M":
        raise InstallError("not a .mpy file (no 'M' header)")
    arch = data[2] >> 2
    return data[1], data[2] & 3, ARCH_NAMES[arch] if arch < len(ARCH_NAMES) else f"arch {arch}"


def board_abi(mpy_value: int | None) -> tuple[int, int, str]:
    """(version, sub-version, arch name) from the board's sys.implementation._mpy (None: the firmware has none)."""
    if mpy_value is None:
        return 0, 0, "none"
    return parse_mpy_header(bytes([ord("M"), mpy_value & 0xFF, (mpy_value >> 8) & 0xFF, 0]))


def check_board(board_mpy: int | None, board_name: str) -> str:
    """Raise InstallError unless the firmware reporting `board_mpy` loads native modules of the .mpy version we
    build; returns its arch name."""
    version, sub_version, arch = board_abi(board_mpy)
    if arch == "none":
        raise InstallError(
            f"{board_name} runs a MicroPython firmware that cannot load native modules (sys.implementation._mpy "
            "names no native architecture): flash MicroPython's official firmware for the board (README: 'No "
            "build: the official firmware'), or build ours with the engine inside (`mpy-mnist firmware build`)")
    if (version, sub_version) != (MPY_VERSION, MPY_SUB_VERSION):
        raise InstallError(
            f"{board_name} loads .mpy version {version}.{sub_version}, tflite.mpy is {MPY_VERSION}."
            f"{MPY_SUB_VERSION}: flash MicroPython {paths.MICROPYTHON_VERSION} on it")
    return arch


def check_loadable(mpy_header: bytes, board_mpy: int | None, board_name: str) -> None:
    """Raise InstallError unless a .mpy with this header loads on the firmware reporting `board_mpy`."""
    board_arch = check_board(board_mpy, board_name)
    version, sub_version, arch = parse_mpy_header(mpy_header)
    if (version, sub_version) != (MPY_VERSION, MPY_SUB_VERSION):
        raise InstallError(f"this tflite.mpy is .mpy version {version}.{sub_version}, not MicroPython "
                           f"{paths.MICROPYTHON_VERSION}'s {MPY_VERSION}.{MPY_SUB_VERSION}: rebuild it with "
                           "`mpy-mnist firmware natmod`")
    loads = arch == board_arch or (arch in THUMB_ARCHS and board_arch in THUMB_ARCHS
                                   and THUMB_ARCHS.index(arch) <= THUMB_ARCHS.index(board_arch))
    if not loads:
        hint = (f"`mpy-mnist firmware natmod --arch {NATMOD_FOR_BOARD[board_arch]}`" if board_arch in NATMOD_FOR_BOARD
                else f"(we build only {', '.join(firmware.NATMOD_ARCHS)})")
        raise InstallError(f"this tflite.mpy is built for {arch} but {board_name} runs {board_arch} code: the "
                           f"module for it comes from {hint}")


def read_board_mpy(port: str) -> int | None:
    """The board's sys.implementation._mpy, or None when its firmware has none."""
    printed = []
    board.run(port, "import sys\nprint(getattr(sys.implementation, '_mpy', None))\n", output=printed.append)
    text = b"".join(printed).decode(errors="replace").strip()
    return None if text == "None" else int(text)


def package_files(export_dir: Path) -> list[tuple[Path, str]]:
    """[(local file, path in the package)]: the model and the digit set of `export_dir`, the device app's packages
    (device_python/package.json). Raises InstallError when the export lacks a file."""
    export_dir = Path(export_dir)
    files = []
    for name in (paths.MODEL_FILE, paths.DIGITS_FILE):
        if not (export_dir / name).is_file():
            raise InstallError(f"{export_dir / name} not found: export a model first (`mpy-mnist export --out "
                               f"{export_dir}`), or pass the directory that holds {paths.MODEL_FILE} and "
                               f"{paths.DIGITS_FILE} (firmware/default_model has the default model's)")
        files.append((export_dir / name, name))
    return files + pipeline.device_python_files()


def write_package(files: list[tuple[Path, str]], mpy: Path, out_dir: Path) -> Path:
    """A self-contained mip package in `out_dir` (made afresh): package.json, tflite.mpy and `files`. Returns
    package.json. Installed with --target /flash it puts every file where the app and `import tflite` look."""
    files = [(mpy, "tflite.mpy"), *files]
    staging = out_dir.with_name(out_dir.name + ".part")
    shutil.rmtree(staging, ignore_errors=True)
    for source, dest in files:
        (staging / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, staging / dest)
    package = {"urls": [[dest, dest] for _, dest in files], "version": paths.MICROPYTHON_VERSION}
    (staging / "package.json").write_text(json.dumps(package, indent=2) + "\n")
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)
    return out_dir / "package.json"


def check_space(port: str, files: list[tuple[Path, str]], board_name: str) -> None:
    """Raise InstallError unless DEVICE_DIR has room for `files` ([(local, path in the package)]): mip checks no
    space first, and a board that runs out part-way keeps half a package."""
    sizes = [local.stat().st_size for local, _ in files]
    block_size, free, overwritten = board.space(port, [f"{paths.DEVICE_DIR}/{dest}" for _, dest in files])
    needed = board.space_needed(sizes, block_size)
    if needed > free + overwritten:
        raise InstallError(
            f"{board_name} has no room for tflite.mpy, the app, the model and the digits in {paths.DEVICE_DIR}: "
            f"they need {needed} bytes ({sum(sizes)} bytes of files in whole {block_size}-byte blocks), "
            f"{free + overwritten} bytes are free (a new STM32F746G-DISCO's /flash has 75,776). Flash our "
            "firmware instead, which has the engine, the app and a model built in (`mpy-mnist firmware flash`), "
            "and push only the model")


def install(port: str, export_dir: Path, mpy: Path | None = None, log=print) -> Path:
    """Put the engine (tflite.mpy), the app, the model and the digits on the stock-firmware board at `port` with
    `mpremote mip install --target /flash`. `mpy`: a ready tflite.mpy, else one is built for the board's arch.
    Refuses, before writing anything, a board without native-code loading and a .mpy it cannot load, then checks
    that `import tflite` works there. Returns the package.json it installed."""
    files = package_files(export_dir)
    if mpy is not None and not Path(mpy).is_file():
        raise InstallError(f"{mpy} not found: build one with `mpy-mnist firmware natmod --arch ARCH --out {mpy}`")
    board_mpy = read_board_mpy(port)
    board_name = f"the board on {port}"
    board_arch = check_board(board_mpy, board_name)
    if mpy is None:
        if board_arch not in NATMOD_FOR_BOARD:
            raise InstallError(f"{board_name} runs {board_arch} code, for which we build no tflite.mpy (we build "
                               f"{', '.join(firmware.NATMOD_ARCHS)})")
        log(f"the board runs {board_arch} code: building tflite.mpy for {NATMOD_FOR_BOARD[board_arch]}")
        try:
            mpy = firmware.natmod(NATMOD_FOR_BOARD[board_arch])
        except firmware.FirmwareError as error:
            raise InstallError(str(error)) from None
    check_loadable(Path(mpy).read_bytes()[:4], board_mpy, board_name)
    check_space(port, [(Path(mpy), "tflite.mpy"), *files], board_name)
    package = write_package(files, Path(mpy), paths.work_dir() / PACKAGE_DIR_NAME)
    log(f"mpremote mip install --target {paths.DEVICE_DIR} {package}")
    result = subprocess.run([sys.executable, "-m", "mpremote", "connect", port, "mip", "install", "--target",
                             paths.DEVICE_DIR, str(package)], capture_output=True, text=True)
    if result.returncode != 0:
        raise InstallError(f"mpremote mip install failed (exit {result.returncode}):\n"
                           f"{(result.stdout + result.stderr).strip()}")
    printed = []
    board.run(port, "import tflite\nprint(len(tflite.OPS), 'ops')\n", output=printed.append)
    log(f"installed: `import tflite` works on the board ({b''.join(printed).decode(errors='replace').strip()})")
    return package
