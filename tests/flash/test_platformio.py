"""firmware/disco: the PlatformIO project that uploads our prebuilt image, checked with PlatformIO's own code."""

import os
import subprocess
import sys

import pytest
from flash_doubles import firmware_bin  # noqa: F401 (a fixture)

from mpy_mnist import flash

PROJECT = flash.PIO_PROJECT
PRE_SCRIPT = PROJECT / "prebuilt_firmware.py"


def project_config_class():
    try:
        from platformio.project.config import ProjectConfig
    except ImportError:
        pytest.fail("platformio is not installed: pip install -e '.[test]' (or pip install platformio)", pytrace=False)
    return ProjectConfig


@pytest.fixture
def config():
    return project_config_class()(str(PROJECT / "platformio.ini"))


def test_ini_passes_platformio_lint_without_warnings(config):
    # Unknown or misspelt options are warnings in PlatformIO's lint, so none at all are allowed.
    assert project_config_class().lint(str(PROJECT / "platformio.ini")) == {"errors": [], "warnings": []}
    assert config.validate(silent=True)


def test_one_env_per_upload_protocol_for_the_disco(config):
    assert set(config.envs()) == set(flash.PIO_ENVS)
    assert config.default_envs() == ["stlink"]
    for env in config.envs():
        options = config.items(env=env, as_dict=True)
        assert options["platform"] == "ststm32"
        assert options["board"] == "disco_f746ng"
        assert options["upload_protocol"] == env
        # Without the offset, ststm32's OpenOCD upload takes an ELF; with it, our .bin at the start of flash.
        assert options["board_upload.offset_address"] == flash.FLASH_ADDRESS
        assert options["extra_scripts"] == ["pre:prebuilt_firmware.py"]
    assert PRE_SCRIPT.is_file()


# PlatformIO's builder, cut down to what happens before the platform's own script: a default SCons environment with
# BUILD_DIR made and PROGNAME "program", then `env.SConscript(<pre: scripts>, exports="env")`.
SCONSTRUCT = """
import os
env = DefaultEnvironment(ENV=os.environ, BUILD_DIR=ARGUMENTS["BUILD_DIR"], PROGNAME="program")
env.SConscriptChdir(False)
os.makedirs(env.subst("$BUILD_DIR"), exist_ok=True)
env.SConscript(ARGUMENTS["PRE_SCRIPT"], exports="env")
env.Alias("nobuild", [])
env.Alias("upload", [])
env.Alias("idedata", [])
"""


def run_pre_script(tmp_path, targets, bin_path):
    """Run prebuilt_firmware.py under real SCons, as a pre: extra script of `pio run -t <targets>`."""
    try:
        import SCons  # noqa: F401
    except ImportError:
        pytest.fail("SCons is not installed: pip install -e '.[test]' (or pip install scons)", pytrace=False)
    (tmp_path / "SConstruct").write_text(SCONSTRUCT)
    build_dir = tmp_path / ".pio" / "build" / "stlink"
    env = dict(os.environ, **{flash.PIO_BIN_VARIABLE: str(bin_path)})
    result = subprocess.run([sys.executable, "-m", "SCons", "-Q", "-C", str(tmp_path), f"BUILD_DIR={build_dir}",
                             f"PRE_SCRIPT={PRE_SCRIPT}", *targets], env=env, capture_output=True, text=True,
                            timeout=120)
    return result, build_dir


def test_pre_script_puts_our_image_where_the_nobuild_upload_takes_it(tmp_path, firmware_bin):
    result, build_dir = run_pre_script(tmp_path, ["nobuild", "upload"], firmware_bin)
    assert result.returncode == 0, result.stderr
    # ststm32's main.py uploads $BUILD_DIR/${PROGNAME}.bin under `nobuild` (PROGNAME "firmware" unless a pre-script
    # chose one); PlatformIO's UploadToDisk (the mbed protocol) copies the same file.
    assert (build_dir / "firmware.bin").read_bytes() == firmware_bin.read_bytes()
    assert f"Prebuilt firmware: {firmware_bin} -> {build_dir / 'firmware.bin'}" in result.stdout


def test_pre_script_refuses_an_upload_that_would_build(tmp_path, firmware_bin):
    result, build_dir = run_pre_script(tmp_path, ["upload"], firmware_bin)
    assert result.returncode == 1
    assert "this project builds nothing" in result.stderr and "-t nobuild -t upload" in result.stderr
    assert not (build_dir / "firmware.bin").exists()


def test_pre_script_names_the_variable_when_the_image_is_missing(tmp_path):
    result, _ = run_pre_script(tmp_path, ["nobuild", "upload"], tmp_path / "absent.bin")
    assert result.returncode == 1
    assert flash.PIO_BIN_VARIABLE in result.stderr and "mpy-mnist firmware flash --method pio" in result.stderr


def test_pre_script_stays_out_of_runs_that_upload_nothing(tmp_path, firmware_bin):
    result, build_dir = run_pre_script(tmp_path, ["idedata"], firmware_bin)
    assert result.returncode == 0, result.stderr
    assert not (build_dir / "firmware.bin").exists()
