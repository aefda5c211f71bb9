"""MicroPython firmware: obtain the pinned source, then build it for one of our boards.

Boards:
  unix      MicroPython's unix port with our C modules and the frozen device code (runs device code fast in tests)
  emulator  MicroPython's qemu port on QEMU's mps2-an500 (Cortex-M7 + FPU), board definition firmware/boards/EMULATOR_M7
  disco     MicroPython's stm32 port for the STM32F746G-DISCO, board definition firmware/boards/MNIST_F746DISCO

Also: stock builds of unix and emulator (build_stock: without our C module or frozen app) and the engine as a
dynamic native module for stock firmware (natmod: tflite.mpy per architecture).

The source is `$MICROPY_DIR` when set, else a copy in the cache: a git checkout of the release tag when the network
allows, else Debian's source package (which has no git submodules: no berkeley-db, no SSL, no micropython-lib, and
no lib/stm32lib for the disco board). Builds live in the cache, one directory per board and checkout, and `make`
rebuilds only what changed.
"""

import ast
import fcntl
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from contextlib import contextmanager
from pathlib import Path

from . import bitmaps, disco_image, paths

BOARDS = ("unix", "emulator", "disco")
EMULATOR_BOARD_DIR = paths.FIRMWARE_DIR / "boards" / "EMULATOR_M7"
DISCO_BOARD_DIR = paths.FIRMWARE_DIR / "boards" / "MNIST_F746DISCO"
COMMON_MANIFEST = paths.FIRMWARE_DIR / "manifest.py"

GIT_URL = "https://github.com/micropython/micropython.git"
GIT_TIMEOUT_S = 20
DEBIAN_SUITE = "trixie"
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

# How MicroPython 1.25's stm32 port compiles C for the STM32F746 (ports/stm32/stm32.mk and Makefile: F7 without
# double-precision FPU, -Os release build, strict warnings), which the bare-metal engine programs (baremetal.py)
# repeat; tests/firmware/test_engine_size.py holds it to the port's own command line. The emulator board uses the
# same machine flags.
DISCO_CFLAGS = ("-mthumb", "-mtune=cortex-m7", "-mcpu=cortex-m7", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard",
                "-mfp16-format=ieee", "-Os", "-DNDEBUG", "-fsingle-precision-constant", "-fdata-sections",
                "-ffunction-sections", "-std=gnu99", "-nostdlib", "-Wall", "-Wpointer-arith", "-Werror",
                "-Wdouble-promotion", "-Wfloat-conversion")

ARM_TOOLCHAIN_HINT = "install it with: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"


class FirmwareError(Exception):
    """A build cannot go on; the message says what is missing and how to get it."""


# ---------------------------------------------------------------------------------------------------------------
# MicroPython source


def source_dir(submodules: tuple[str, ...] = ()) -> Path:
    """The MicroPython source to build from, obtained into the cache when `$MICROPY_DIR` is not set."""
    user_dir = os.environ.get("MICROPY_DIR")
    if user_dir:
        src = Path(user_dir).resolve()
        if not (src / "py" / "mpconfig.h").is_file():
            raise FirmwareError(f"MICROPY_DIR={user_dir} is not a MicroPython source tree (no py/mpconfig.h)")
        version = source_version(src)
        if version != paths.MICROPYTHON_VERSION:
            raise FirmwareError(
                f"MICROPY_DIR={user_dir} is MicroPython {version}, not the {paths.MICROPYTHON_VERSION} mpy-mnist "
                f"builds: check out its tag (git -C {user_dir} checkout v{paths.MICROPYTHON_VERSION}, then git -C "
                f"{user_dir} submodule update --init lib/stm32lib for the disco board)")
    else:
        src = paths.cache_dir() / f"micropython-{paths.MICROPYTHON_VERSION}"
        with _locked(paths.cache_dir() / "micropython-source.lock"):
            if not (src / "py" / "mpconfig.h").is_file():
                _obtain_source(src, submodules)
            elif (src / ".git").exists() and submodules:
                _fetch_submodules(src, submodules)  # a checkout made earlier for a board that needed fewer
    _require_submodules(src, submodules)
    return src


def source_version(src: Path) -> str:
    """MAJOR.MINOR.MICRO from the tree's py/mpconfig.h, with "-preview" for a checkout between releases."""
    text = (src / "py" / "mpconfig.h").read_text()
    numbers = {m[1]: m[2] for m in re.finditer(r"#define MICROPY_VERSION_(MAJOR|MINOR|MICRO|PRERELEASE) (\d+)", text)}
    version = ".".join(numbers.get(part, "?") for part in ("MAJOR", "MINOR", "MICRO"))
    return version + ("-preview" if numbers.get("PRERELEASE", "0") != "0" else "")


def _obtain_source(dest: Path, submodules: tuple[str, ...]) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="mpsrc-", dir=dest.parent))
    try:
        tree = _git_checkout(staging, submodules) or _debian_source(staging)
        tree.rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _git_checkout(staging: Path, submodules: tuple[str, ...]) -> Path | None:
    """A shallow clone of the release tag plus the submodules asked for, or None when the network says no."""
    if shutil.which("git") is None:
        return None
    tree = staging / "git"
    tag = f"v{paths.MICROPYTHON_VERSION}"
    try:
        subprocess.run(["git", "clone", "-q", "--depth", "1", "-b", tag, GIT_URL, str(tree)],
                       check=True, timeout=GIT_TIMEOUT_S, capture_output=True)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return None
    _fetch_submodules(tree, submodules)
    return tree


def _fetch_submodules(tree: Path, submodules: tuple[str, ...]) -> None:
    """Best effort: what could not be fetched is reported by _require_submodules."""
    missing = [sub for sub in submodules if not _populated(tree / sub)]
    if missing:
        try:
            subprocess.run(["git", "-C", str(tree), "submodule", "update", "--init", "--depth", "1", *missing],
                           check=True, timeout=10 * GIT_TIMEOUT_S, capture_output=True)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass


def _debian_source(staging: Path) -> Path:
    """Debian's `micropython` source package, fetched through a temporary apt configuration (the host's own
    apt configuration is left alone) and its orig tarball extracted."""
    if shutil.which("apt-get") is None:
        raise FirmwareError("cannot fetch the MicroPython source without apt-get: set MICROPY_DIR to a MicroPython "
                            f"{paths.MICROPYTHON_VERSION} checkout")
    apt_dir = staging / "apt"
    (apt_dir / "lists" / "partial").mkdir(parents=True)
    (apt_dir / "sources.list.d").mkdir()
    sources = apt_dir / "sources.list"
    sources.write_text(f"deb-src [signed-by={DEBIAN_KEYRING}] {debian_mirror()} {DEBIAN_SUITE} main\n")
    options = ["-o", f"Dir::Etc::SourceList={sources}", "-o", f"Dir::Etc::SourceParts={apt_dir / 'sources.list.d'}",
               "-o", f"Dir::State::Lists={apt_dir / 'lists'}"]
    download = staging / "download"
    download.mkdir()
    version = f"{paths.MICROPYTHON_VERSION}+ds"
    try:
        subprocess.run(["apt-get", *options, "update", "-q"], check=True, capture_output=True, timeout=300)
        subprocess.run(["apt-get", *options, "source", "--download-only", f"micropython={version}-1"],
                       check=True, capture_output=True, cwd=download, timeout=600)
    except subprocess.CalledProcessError as err:
        raise FirmwareError("cannot fetch Debian's micropython source package:\n"
                            f"{err.stderr.decode(errors='replace').strip()}\n"
                            "Set MICROPY_DIR to a MicroPython checkout instead.") from err
    orig = download / f"micropython_{version}.orig.tar.xz"
    with tarfile.open(orig) as tar:
        tar.extractall(staging / "extract", filter="tar")
    (tree,) = (staging / "extract").iterdir()
    return tree


def debian_mirror() -> str:
    """The Debian archive URI this machine's apt already uses (never written down anywhere)."""
    lines = []
    apt = Path("/etc/apt")
    for path in [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*.list")),
                 *sorted((apt / "sources.list.d").glob("*.sources"))]:
        if path.is_file():
            lines += path.read_text().splitlines()
    for line in lines:
        deb822 = re.match(r"\s*URIs:\s*(\S+)", line)
        one_line = re.match(r"\s*deb(?:-src)?\s+(?:\[[^\]]*\]\s+)?(\S+)", line)
        uri = (deb822 or one_line).group(1) if (deb822 or one_line) else None
        if uri and uri.rstrip("/").endswith("/debian"):
            return uri.rstrip("/")
    raise FirmwareError("no Debian archive found in /etc/apt: set MICROPY_DIR to a MicroPython "
                        f"{paths.MICROPYTHON_VERSION} checkout")


def _require_submodules(src: Path, submodules: tuple[str, ...]) -> None:
    for sub in submodules:
        if not _populated(src / sub):
            raise FirmwareError(
                f"{src / sub} is empty: this board needs MicroPython's {sub} submodule. Fetch it with\n"
                f"  git -C <checkout> submodule update --init {sub}\n"
                f"in a git checkout of v{paths.MICROPYTHON_VERSION} and point MICROPY_DIR at that checkout "
                "(Debian's source package, the fallback used here, ships without submodules).")


def _populated(directory: Path) -> bool:
    return directory.is_dir() and any(directory.iterdir())


# ---------------------------------------------------------------------------------------------------------------
# Builds


def build_dir(board: str) -> Path:
    """One build directory per board and repository checkout, so worktrees never share object files."""
    checkout = hashlib.sha256(str(paths.REPO_ROOT).encode()).hexdigest()[:10]
    return paths.cache_dir() / "firmware" / f"{board}-{checkout}"


def build(board: str, jobs: int = 2, log=None) -> Path:
    """Build (or bring up to date) the firmware for `board`; returns the file to run or flash."""
    if board not in BOARDS:
        raise FirmwareError(f"unknown board {board!r}: choose one of {', '.join(BOARDS)}")
    _require_default_model()
    builders = {"unix": _build_unix, "emulator": _build_emulator, "disco": _build_disco}
    out = build_dir(board)
    out.parent.mkdir(parents=True, exist_ok=True)
    with _locked(out.with_suffix(".lock")):
        _start_afresh_if_configuration_changed(board, out)
        return builders[board](out, jobs, log)


def _start_afresh_if_configuration_changed(board: str, out: Path) -> None:
    """make rebuilds what changed sources need, but not what changed compiler flags or module lists need: when
    the board definition or the set of C modules changes, the build directory starts empty."""
    inputs = [COMMON_MANIFEST, *sorted(paths.CMODULES_DIR.glob("*/micropython.mk"))]
    board_dir = {"emulator": EMULATOR_BOARD_DIR, "disco": DISCO_BOARD_DIR}.get(board)
    if board_dir is not None:
        inputs += sorted(p for p in board_dir.rglob("*") if p.is_file())
    _start_afresh_if_changed(out, inputs)


def _start_afresh_if_changed(out: Path, inputs: list[Path], settings: str = "") -> None:
    """Empty `out` unless it was built from these inputs' contents and settings (and the same $MICROPY_DIR)."""
    digest = hashlib.sha256((os.environ.get("MICROPY_DIR", "") + "\0" + settings).encode())
    for path in inputs:
        digest.update(str(path).encode() + b"\0" + path.read_bytes())
    stamp = out / ".configuration"
    if not stamp.is_file() or stamp.read_text() != digest.hexdigest():
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        stamp.write_text(digest.hexdigest())


def _build_unix(out: Path, jobs: int, log) -> Path:
    _require_tools({"make": "apt-get install make", "cc": "apt-get install gcc"})
    src = source_dir()
    _make(src / "ports" / "unix", out, jobs, log,
          ["VARIANT=standard", "MICROPY_PY_BTREE=0", "MICROPY_PY_SSL=0",
           f"FROZEN_MANIFEST={frozen_manifest(COMMON_MANIFEST, out)}"])
    return out / "micropython"


def _build_emulator(out: Path, jobs: int, log) -> Path:
    _require_tools({"make": "apt-get install make", "arm-none-eabi-gcc": ARM_TOOLCHAIN_HINT})
    src = source_dir()
    manifest = frozen_manifest(EMULATOR_BOARD_DIR / "manifest.py", out, factory_files_module(src, out))
    _make(src / "ports" / "qemu", out, jobs, log, [f"BOARD_DIR={EMULATOR_BOARD_DIR}", f"FROZEN_MANIFEST={manifest}"])
    return out / "firmware.elf"


# The files MicroPython 1.25's stm32 port writes into a freshly made /flash (ports/stm32/factoryreset.c): boot.py,
# main.py and, with USB (which the DISCO's board definition enables), pybcdc.inf and README.txt. The emulated
# board's _boot.py writes the same into its fresh /flash, so that it has the DISCO's free space.
FACTORY_STRINGS = (("boot.py", "fresh_boot_py"), ("main.py", "fresh_main_py"), ("README.txt", "fresh_readme_txt"))


def factory_files_module(src: Path, out: Path) -> Path:
    """Write out/factory_files/_factory_files.py (FILES: (name, bytes) in factoryreset.c's order) from the port's
    source: its C strings (every line: the DISCO build has both USB and the network module they depend on), and
    pybcdc.inf made by the port's own tools as its Makefile does. Returns the module's path."""
    stm32 = src / "ports" / "stm32"
    factory_c = (stm32 / "factoryreset.c").read_text()
    contents = {name: _c_string_lines(re.search(rf"{variable}\[\] =\n(.*?)\n;", factory_c, re.S).group(1))
                for name, variable in FACTORY_STRINGS}
    inf = subprocess.run([sys.executable, src / "tools" / "insert-usb-ids.py", stm32 / "mpconfigboard_common.h",
                          stm32 / "pybcdc.inf_template"], check=True, capture_output=True, text=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".inf") as inf_file:
        inf_file.write(inf)
        inf_file.flush()
        inf_h = subprocess.run([sys.executable, src / "tools" / "file2h.py", inf_file.name], check=True,
                               capture_output=True, text=True).stdout
    contents["pybcdc.inf"] = _c_string_lines(inf_h)
    order = re.findall(r'\{"([^"]+)", sizeof\(fresh_', factory_c)
    module = out / "factory_files" / "_factory_files.py"
    module.parent.mkdir(parents=True, exist_ok=True)
    _write_if_changed(module, "# Written by mpy-mnist (firmware.py) from MicroPython's ports/stm32/factoryreset.c.\n"
                              "FILES = (\n" + "".join(f"    ({name!r}, {contents[name]!r}),\n" for name in order)
                              + ")\n")
    return module


def _c_string_lines(text: str) -> bytes:
    """The bytes of C string literals, one a line; preprocessor lines are skipped."""
    return b"".join(ast.literal_eval("b" + line.strip()) for line in text.splitlines()
                    if line.strip() and not line.strip().startswith("#"))


def _build_disco(out: Path, jobs: int, log) -> Path:
    _require_tools({"make": "apt-get install make", "arm-none-eabi-gcc": ARM_TOOLCHAIN_HINT})
    src = source_dir(submodules=("lib/stm32lib",))
    _build_mpy_cross(src, jobs, log)
    _run_make(disco_make_command(src, out, jobs), log)
    try:
        return disco_image.make(out / "firmware.elf", out)
    except disco_image.ImageError as err:
        raise FirmwareError(str(err)) from None


def disco_make_command(src: Path, out: Path, jobs: int = 2) -> list[str]:
    """The stm32 port's make for our DISCO board (its board directory made fresh in the build's sibling)."""
    return make_command(src / "ports" / "stm32", out, jobs,
                        [f"BOARD_DIR={disco_board_dir(src, out)}",
                         f"FROZEN_MANIFEST={frozen_manifest(DISCO_BOARD_DIR / 'manifest.py', out)}"])


def disco_board_dir(src: Path, out: Path) -> Path:
    """MicroPython's STM32F7DISC board definition, copied from the source into the build directory, with our
    additions (firmware/boards/MNIST_F746DISCO) appended to its mpconfigboard.mk and mpconfigboard.h and our C
    files beside its own."""
    board_dir = out.with_name(out.name + "-board")
    shutil.rmtree(board_dir, ignore_errors=True)
    shutil.copytree(src / "ports" / "stm32" / "boards" / "STM32F7DISC", board_dir)
    for name in ("mpconfigboard.mk", "mpconfigboard.h"):
        with open(board_dir / name, "a") as merged:
            merged.write("\n" + (DISCO_BOARD_DIR / name).read_text())
    for source in DISCO_BOARD_DIR.glob("*.c"):  # the port compiles every .c of the board directory
        shutil.copy(source, board_dir / source.name)
    return board_dir


def _make(port_dir: Path, out: Path, jobs: int, log, variables: list[str], user_c_modules: bool = True) -> None:
    _build_mpy_cross(port_dir.parents[1], jobs, log)
    _run_make(make_command(port_dir, out, jobs, variables, user_c_modules), log)


def make_command(port_dir: Path, out: Path, jobs: int, variables: list[str], user_c_modules: bool = True) -> list[str]:
    """`nice make` in a port with our C modules (unless `user_c_modules` is False) and no micropython-lib; what
    is frozen comes with `variables` (FROZEN_MANIFEST)."""
    cmd = ["nice", "make", "-C", str(port_dir), f"-j{jobs}", f"BUILD={out}",
           f"MPY_LIB_DIR={_empty_micropython_lib()}", *variables]
    if user_c_modules and user_c_modules_present():
        cmd.append(f"USER_C_MODULES={paths.CMODULES_DIR}")
    return cmd


# ---------------------------------------------------------------------------------------------------------------
# Stock firmware: what a board owner who builds nothing runs. Our boards without our C module and without the
# frozen app, for the native module (tflite.mpy) to be tested against.

STOCK_BOARDS = ("unix", "emulator")


def build_stock(board: str, jobs: int = 2, log=None, native_code: bool = True) -> Path:
    """The `board` firmware without our C modules and with nothing of ours frozen (the emulator keeps its boot
    script, which mounts /flash); its own build directory. Returns the file to run. native_code=False (emulator
    only): a firmware that cannot load native modules, as some boards' firmware is built."""
    if board not in STOCK_BOARDS or (board != "emulator" and not native_code):
        raise FirmwareError(f"no stock build for board {board!r}: choose one of {', '.join(STOCK_BOARDS)}")
    compiler = {"emulator": ("arm-none-eabi-gcc", ARM_TOOLCHAIN_HINT), "unix": ("cc", "apt-get install gcc")}[board]
    _require_tools({"make": "apt-get install make", compiler[0]: compiler[1]})
    out = build_dir(f"{board}-stock" + ("" if native_code else "-no-native"))
    out.parent.mkdir(parents=True, exist_ok=True)
    with _locked(out.with_suffix(".lock")):
        board_files = sorted(p for p in EMULATOR_BOARD_DIR.rglob("*") if p.is_file()) if board == "emulator" else []
        _start_afresh_if_changed(out, board_files, settings=f"stock native_code={native_code}")
        src = source_dir()
        if board == "unix":
            _make(src / "ports" / "unix", out, jobs, log,
                  ["VARIANT=standard", "MICROPY_PY_BTREE=0", "MICROPY_PY_SSL=0", "FROZEN_MANIFEST="],
                  user_c_modules=False)
            return out / "micropython"
        manifest = out / "stock_manifest.py"
        manifest.write_text(f'freeze("{EMULATOR_BOARD_DIR / "modules"}", "_boot.py")\n'
                            + _module_line(factory_files_module(src, out)))
        no_native = [] if native_code else [
            f"CFLAGS_EXTRA=-UMP_CONFIGFILE -DMP_CONFIGFILE='\"{_no_native_config(out)}\"'"]
        _make(src / "ports" / "qemu", out, jobs, log,
              [f"BOARD_DIR={EMULATOR_BOARD_DIR}", f"FROZEN_MANIFEST={manifest}", *no_native], user_c_modules=False)
        return out / "firmware.elf"


def _no_native_config(out: Path) -> Path:
    """The board's configuration with the Thumb emitters off: no native architecture, so no native modules."""
    config = out / "mpconfig_no_native.h"
    config.write_text(f'#include "{EMULATOR_BOARD_DIR / "mpconfigboard.h"}"\n'
                      "#undef MICROPY_EMIT_THUMB\n#define MICROPY_EMIT_THUMB (0)\n"
                      "#undef MICROPY_EMIT_INLINE_THUMB\n#define MICROPY_EMIT_INLINE_THUMB (0)\n")
    return config


# ---------------------------------------------------------------------------------------------------------------
# The engine as a dynamic native module (tflite.mpy), built with MicroPython's py/dynruntime.mk and tools/mpy_ld.py

NATMOD_ARCHS = ("armv7emsp", "armv7m", "x64")
NATMOD_DIR = paths.CMODULES_DIR / "tflite" / "natmod"


def natmod(arch: str, out: Path | None = None, jobs: int = 2, log=None) -> Path:
    """tflite.mpy for `arch` from the binding (cmodules/tflite/modtflite.c, registered by natmod/tflite_native.c)
    and the engine's sources (engine.engine_sources()), built in the cache; copied to `out` when given. Returns
    the file."""
    from . import engine

    if arch not in NATMOD_ARCHS:
        raise FirmwareError(f"unknown arch {arch!r}: choose one of {', '.join(NATMOD_ARCHS)}")
    compiler = "cc" if arch == "x64" else "arm-none-eabi-gcc"
    _require_tools({"make": "apt-get install make",
                    compiler: "apt-get install gcc" if arch == "x64" else ARM_TOOLCHAIN_HINT})
    for module, package in (("elftools", "pyelftools"), ("ar", "ar")):  # mpy_ld.py reads objects and archives
        if importlib.util.find_spec(module) is None:
            raise FirmwareError(f"{package} is missing (MicroPython's mpy_ld.py needs it): pip install {package}")
    src = source_dir()
    build = build_dir(f"natmod-{arch}")
    build.parent.mkdir(parents=True, exist_ok=True)
    with _locked(build.with_suffix(".lock")):
        # dynruntime.mk knows no header dependencies: any change to the module's files starts the build afresh
        sources = sorted(p for p in (paths.CMODULES_DIR / "tflite").rglob("*.[ch]") if p.is_file())
        _start_afresh_if_changed(build, [*sources, NATMOD_DIR / "Makefile"], settings=arch)
        makefile = build / "Makefile"  # dynruntime.mk's rules want the Makefile in the directory make runs in
        if not makefile.is_symlink():
            makefile.symlink_to(NATMOD_DIR / "Makefile")
        engine_src = " ".join(str(path) for path in engine.engine_sources())
        _run_make(["nice", "make", "-C", str(build), f"-j{jobs}", f"MPY_DIR={src}", f"ARCH={arch}",
                   f"PYTHON={sys.executable}", f"ENGINE_SRC={engine_src}"], log)
    built = build / "tflite.mpy"
    if out is None:
        return built
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(out.name + ".part")
    shutil.copyfile(built, staging)
    os.replace(staging, out)
    return out


def _build_mpy_cross(src: Path, jobs: int, log) -> None:
    """mpy-cross (which compiles the frozen code) is built on its own first: a port's make would otherwise pass
    its BUILD and FROZEN_MANIFEST down to mpy-cross's build."""
    with _locked(paths.cache_dir() / "mpy-cross.lock"):
        _run_make(["nice", "make", "-C", str(src / "mpy-cross"), f"-j{jobs}"], log)


def _run_make(cmd: list[str], log) -> None:
    result = subprocess.run(cmd, stdout=log or subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout or "").splitlines()[-40:])
        raise FirmwareError(f"{' '.join(cmd[1:4])} failed (exit {result.returncode}):\n{tail}")


def user_c_modules_present() -> bool:
    return any(paths.CMODULES_DIR.glob("*/micropython.mk"))


def _empty_micropython_lib() -> Path:
    """MicroPython's build insists on a micropython-lib checkout before freezing anything; we freeze nothing from
    it, so an empty stand-in (with the README.md the check looks for) is enough."""
    stand_in = paths.cache_dir() / "firmware" / "no-micropython-lib"
    stand_in.mkdir(parents=True, exist_ok=True)
    (stand_in / "README.md").write_text("Empty on purpose: mpy-mnist freezes nothing from micropython-lib.\n")
    return stand_in


def _require_default_model() -> None:
    missing = [name for name in (paths.MODEL_FILE, paths.DIGITS_FILE) if not (paths.DEFAULT_MODEL_DIR / name).is_file()]
    if missing:
        raise FirmwareError(f"the default model is missing from {paths.DEFAULT_MODEL_DIR} ({', '.join(missing)}): "
                            "create it with `mpy-mnist export --out firmware/default_model`")


def frozen_manifest(board_manifest: Path, out: Path, *extra_modules: Path) -> Path:
    """The manifest this build freezes: the board's, plus the modules mnist_model and mnist_digits, written into the
    build directory from the default model's model.tflite and digits.bin (the one copy of each in the repository),
    and extra_modules (generated .py files)."""
    from .export import digits_module, model_module  # here: export brings in numpy, which other commands skip

    generated = out / "default_model"
    generated.mkdir(parents=True, exist_ok=True)
    labels, packed = bitmaps.read_digits_file((paths.DEFAULT_MODEL_DIR / paths.DIGITS_FILE).read_bytes())
    _write_if_changed(generated / paths.MODEL_MODULE,
                      model_module((paths.DEFAULT_MODEL_DIR / paths.MODEL_FILE).read_bytes()))
    _write_if_changed(generated / paths.DIGITS_MODULE, digits_module(labels, packed))
    manifest = out / "manifest.py"
    _write_if_changed(manifest, "# Written by mpy-mnist (firmware.py): the board's manifest, then the default model.\n"
                                f"include({str(board_manifest)!r})\n"
                                + "".join(f"module({name!r}, base_path={str(generated)!r})\n"
                                          for name in (paths.MODEL_MODULE, paths.DIGITS_MODULE))
                                + "".join(_module_line(path) for path in extra_modules))
    return manifest


def _module_line(path: Path) -> str:
    return f"module({path.name!r}, base_path={str(path.parent)!r})\n"


def _write_if_changed(path: Path, text: str) -> None:
    """Leave an unchanged file alone, so that make does not freeze it again."""
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)


def _require_tools(tools: dict[str, str]) -> None:
    for tool, how in tools.items():
        if shutil.which(tool) is None:
            raise FirmwareError(f"{tool} not found: {how}")


@contextmanager
def _locked(lock_path: Path):
    """Serialise builds of one directory between processes (tests in several worktrees share the cache)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
