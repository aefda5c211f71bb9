"""Firmware builds: where the MicroPython source comes from, what each build needs, and what the unix build holds."""

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from mpy_mnist import bitmaps, disco_image, firmware, paths

DEVICE_PACKAGES = sorted(p.name for p in paths.DEVICE_PYTHON_DIR.glob("*") if (p / "__init__.py").is_file())
C_MODULES = sorted(p.parent.name for p in paths.CMODULES_DIR.glob("*/micropython.mk"))


def run_unix(binary: Path, code: str, cwd: Path) -> str:
    """Run code on the unix port with only frozen modules importable (MICROPYPATH=.frozen)."""
    env = dict(os.environ, MICROPYPATH=".frozen")
    result = subprocess.run([str(binary), "-c", code], capture_output=True, text=True, cwd=cwd, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_unknown_board_is_refused():
    with pytest.raises(firmware.FirmwareError, match="choose one of unix, emulator, disco"):
        firmware.build("pyboard")


def test_micropy_dir_must_be_a_micropython_tree(monkeypatch, tmp_path):
    monkeypatch.setenv("MICROPY_DIR", str(tmp_path))
    with pytest.raises(firmware.FirmwareError, match="not a MicroPython source tree"):
        firmware.source_dir()


@pytest.mark.parametrize("defines,version", [("1, 26, 0, 0", "1.26.0"), ("1, 25, 0, 1", "1.25.0-preview")])
def test_micropy_dir_must_be_the_release_we_build(monkeypatch, tmp_path, defines, version):
    # A clone without `-b v1.25.0` is the development branch: refused, naming the tag to check out.
    major, minor, micro, prerelease = defines.split(", ")
    (tmp_path / "py").mkdir()
    (tmp_path / "py" / "mpconfig.h").write_text(
        f"#define MICROPY_VERSION_MAJOR {major}\n#define MICROPY_VERSION_MINOR {minor}\n"
        f"#define MICROPY_VERSION_MICRO {micro}\n#define MICROPY_VERSION_PRERELEASE {prerelease}\n")
    monkeypatch.setenv("MICROPY_DIR", str(tmp_path))
    with pytest.raises(firmware.FirmwareError, match=rf"is MicroPython {version}, not the 1\.25\.0 mpy-mnist builds: "
                                                     rf"check out its tag \(git -C {tmp_path} checkout v1\.25\.0"):
        firmware.source_dir()


def test_micropy_dir_of_the_release_is_taken(monkeypatch):
    src = firmware.source_dir()  # the cache's copy of the release
    monkeypatch.setenv("MICROPY_DIR", str(src))
    assert firmware.source_dir() == src


def test_missing_default_model_names_the_command_that_makes_it(monkeypatch, tmp_path):
    monkeypatch.setattr(paths, "DEFAULT_MODEL_DIR", tmp_path)
    with pytest.raises(firmware.FirmwareError, match=r"model\.tflite, digits\.bin\): create it with `mpy-mnist export "
                                                     r"--out firmware/default_model`"):
        firmware.build("unix")


def test_the_frozen_model_modules_are_generated_from_the_default_model(tmp_path):
    manifest = firmware.frozen_manifest(firmware.COMMON_MANIFEST, tmp_path)
    text = manifest.read_text()
    assert f"include({str(firmware.COMMON_MANIFEST)!r})" in text
    namespace = {}
    for name in (paths.MODEL_MODULE, paths.DIGITS_MODULE):
        assert f"module({name!r}, base_path={str(tmp_path / 'default_model')!r})" in text
        exec((tmp_path / "default_model" / name).read_text(), namespace)
    assert namespace["MODEL"] == (paths.DEFAULT_MODEL_DIR / paths.MODEL_FILE).read_bytes()
    digits = bitmaps.digits_file_bytes(namespace["LABELS"], namespace["BITMAPS"])
    assert digits == (paths.DEFAULT_MODEL_DIR / paths.DIGITS_FILE).read_bytes()
    # Generated, not committed: the model has one source in the repository.
    assert not (paths.DEFAULT_MODEL_DIR / paths.MODEL_MODULE).exists()
    assert not (paths.DEFAULT_MODEL_DIR / paths.DIGITS_MODULE).exists()
    before = (tmp_path / "default_model" / paths.MODEL_MODULE).stat().st_mtime_ns
    firmware.frozen_manifest(firmware.COMMON_MANIFEST, tmp_path)
    assert (tmp_path / "default_model" / paths.MODEL_MODULE).stat().st_mtime_ns == before, "rewritten unchanged"


def test_debian_mirror_is_read_from_the_apt_configuration():
    mirror = firmware.debian_mirror()
    apt_files = [*Path("/etc/apt").glob("sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]
    assert mirror.endswith("/debian")
    assert any(mirror in f.read_text() for f in apt_files if f.is_file())


def test_build_dirs_are_per_board_and_inside_the_cache():
    dirs = {firmware.build_dir(board) for board in firmware.BOARDS}
    assert len(dirs) == len(firmware.BOARDS)
    assert all(paths.cache_dir() in d.parents for d in dirs)


@pytest.mark.slow
def test_disco_build_needs_stm32lib():
    """With Debian's source (no submodules) the disco build stops naming lib/stm32lib; with a full checkout it
    builds the two images and the .hex of only them."""
    src = firmware.source_dir()
    stm32lib = src / "lib" / "stm32lib"
    if stm32lib.is_dir() and any(stm32lib.iterdir()):
        images = disco_image.read_hex(firmware.build("disco"))
        assert len(images[disco_image.TEXT1]) > 100_000
    else:
        with pytest.raises(firmware.FirmwareError, match=r"(?s)lib/stm32lib.*submodule update --init lib/stm32lib"):
            firmware.build("disco")


@pytest.mark.unix
def test_unix_build_freezes_the_default_model(unix_micropython, tmp_path):
    out = run_unix(unix_micropython, "import hashlib, binascii, mnist_model; "
                   "print(binascii.hexlify(hashlib.sha256(mnist_model.MODEL).digest()).decode())", tmp_path)
    assert out.strip() == hashlib.sha256((paths.DEFAULT_MODEL_DIR / paths.MODEL_FILE).read_bytes()).hexdigest()
    digits = run_unix(unix_micropython, "import mnist_digits; print(len(mnist_digits.BITMAPS) // 112, "
                      "len(mnist_digits.LABELS))", tmp_path).split()
    assert digits[0] == digits[1] != "0"


@pytest.mark.unix
@pytest.mark.parametrize("package", DEVICE_PACKAGES)
def test_unix_build_freezes_device_python_packages(unix_micropython, tmp_path, package):
    # Only frozen modules are on the path (MICROPYPATH=.frozen), and frozen files have paths relative to it.
    out = run_unix(unix_micropython, f"import {package}; print({package}.__file__)", tmp_path)
    assert out.strip() == f"{package}/__init__.py"


@pytest.mark.unix
def test_unix_build_leaves_out_scripts(unix_micropython, tmp_path):
    out = run_unix(unix_micropython, "try:\n import demo\n print('frozen')\nexcept ImportError:\n print('absent')",
                   tmp_path)
    assert out.strip() == "absent"


@pytest.mark.unix
@pytest.mark.parametrize("module", C_MODULES)
def test_unix_build_has_our_c_modules(unix_micropython, tmp_path, module):
    assert run_unix(unix_micropython, f"import {module}; print({module}.__name__)", tmp_path).strip() == module
