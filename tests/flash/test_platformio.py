"""firmware/disco: the PlatformIO project that uploads our prebuilt image, checked with PlatformIO's own code."""

import json
import os
import re
import subprocess
import sys

import pytest
from flash_doubles import disco_build, firmware_bins  # noqa: F401 (fixtures)

from mpy_mnist import disco_image, flash

PROJECT = flash.PIO_PROJECT
PRE_SCRIPT = PROJECT / "prebuilt_firmware.py"
POST_SCRIPT = PROJECT / "openocd_two_images.py"


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


def test_one_env_uploading_through_the_stlink_with_both_scripts(config):
    assert config.envs() == [flash.PIO_ENV] and config.default_envs() == [flash.PIO_ENV]
    options = config.items(env=flash.PIO_ENV, as_dict=True)
    assert options["platform"] == "ststm32"
    assert options["board"] == "disco_f746ng"
    assert options["upload_protocol"] == "stlink"
    # Without the offset, ststm32's OpenOCD upload takes an ELF; with it, TEXT0's .bin at the start of flash.
    assert int(options["board_upload.offset_address"], 16) == disco_image.TEXT0.address
    assert options["extra_scripts"] == ["pre:prebuilt_firmware.py", "post:openocd_two_images.py"]
    assert PRE_SCRIPT.is_file() and POST_SCRIPT.is_file()


# PlatformIO's builder, cut down to what matters here: a default SCons environment with BUILD_DIR made, PROGNAME
# "program" and the board's upload offset; the pre: script; what ststm32's main.py does in between for the stlink
# protocol (PROGNAME "firmware" unless a pre-script chose one; OpenOCD's arguments ending in its one `program`
# command); the post: script. It prints the OpenOCD arguments the upload would run with, $SOURCE substituted.
SCONSTRUCT = """
import json, os
env = DefaultEnvironment(ENV=os.environ, BUILD_DIR=ARGUMENTS["BUILD_DIR"], PROGNAME="program")
env.AddMethod(lambda env: {"upload.offset_address": ARGUMENTS["OFFSET"]}, "BoardConfig")
env.SConscriptChdir(False)
os.makedirs(env.subst("$BUILD_DIR"), exist_ok=True)
env.SConscript(ARGUMENTS["PRE_SCRIPT"], exports="env")
if env.get("PROGNAME", "program") == "program":
    env.Replace(PROGNAME="firmware")
env.Replace(UPLOADER="openocd", UPLOADERFLAGS=[
    "-d1", "-s", "$PACKAGE_DIR/openocd/scripts", "-f", "interface/stlink.cfg", "-c", "transport select hla_swd",
    "-f", "target/stm32f7x.cfg", "-c", "reset_config none",
    "-c", "program {$SOURCE} %s verify reset; shutdown;" % ARGUMENTS["OFFSET"]])
env.SConscript(ARGUMENTS["POST_SCRIPT"], exports="env")
source = env.File(os.path.join(env.subst("$BUILD_DIR"), env.subst("${PROGNAME}.bin")))
print("UPLOADERFLAGS " + json.dumps([env.subst(str(f), source=source) for f in env["UPLOADERFLAGS"]]))
env.Alias("nobuild", [])
env.Alias("upload", [])
env.Alias("idedata", [])
"""


def run_project_scripts(tmp_path, targets, image_paths, sconstruct=SCONSTRUCT):
    """Run the project's pre- and post-scripts under real SCons, as `pio run -t <targets>` runs extra scripts.
    Returns (result, build dir, OpenOCD arguments of the upload or None)."""
    try:
        import SCons  # noqa: F401
    except ImportError:
        pytest.fail("SCons is not installed: pip install -e '.[test]' (or pip install scons)", pytrace=False)
    offset = project_config_class()(str(PROJECT / "platformio.ini")).get(f"env:{flash.PIO_ENV}",
                                                                          "board_upload.offset_address")
    (tmp_path / "SConstruct").write_text(sconstruct)
    build_dir = tmp_path / ".pio" / "build" / flash.PIO_ENV
    env = dict(os.environ, **{name: str(path) for name, path in zip(flash.PIO_IMAGE_VARIABLES, image_paths)})
    result = subprocess.run([sys.executable, "-m", "SCons", "-Q", "-C", str(tmp_path), f"BUILD_DIR={build_dir}",
                             f"OFFSET={offset}", f"PRE_SCRIPT={PRE_SCRIPT}", f"POST_SCRIPT={POST_SCRIPT}", *targets],
                            env=env, capture_output=True, text=True, timeout=120)
    flags = next((json.loads(line.split(" ", 1)[1]) for line in result.stdout.splitlines()
                  if line.startswith("UPLOADERFLAGS ")), None)
    return result, build_dir, flags


def openocd_programs(flags, project_dir):
    """(file, address) of each `program FILE ADDRESS` in OpenOCD's last -c command (run from the project dir)."""
    return [((project_dir / m[1]).resolve(), int(m[2], 16))
            for m in re.finditer(r"program \{([^}]*)\} (0x[0-9a-fA-F]+)", flags[-1])]


def test_scripts_stage_both_images_and_program_each_at_its_address(tmp_path, firmware_bins):
    result, build_dir, flags = run_project_scripts(tmp_path, ["nobuild", "upload"], firmware_bins)
    assert result.returncode == 0, result.stderr
    # ststm32's main.py uploads $BUILD_DIR/${PROGNAME}.bin under `nobuild` (PROGNAME "firmware" unless a pre-script
    # chose one): TEXT0 goes there, TEXT1 beside it.
    assert (build_dir / "firmware.bin").read_bytes() == firmware_bins[0].read_bytes()
    assert (build_dir / "firmware1.bin").read_bytes() == firmware_bins[1].read_bytes()
    assert f"Prebuilt firmware: {firmware_bins[0]} -> {build_dir / 'firmware.bin'}" in result.stdout
    assert flags[-2] == "-c"
    assert openocd_programs(flags, tmp_path) == [(build_dir / "firmware.bin", disco_image.TEXT0.address),
                                                 (build_dir / "firmware1.bin", disco_image.TEXT1.address)]
    assert re.fullmatch(r"program \{\S+\} 0x08000000 verify; program \{\S+\} 0x08020000 verify reset; shutdown;",
                        flags[-1]), "the board is reset only after both images are written"


def test_post_script_refuses_an_upload_it_does_not_recognise(tmp_path, firmware_bins):
    sconstruct = SCONSTRUCT.replace('"-c", "program {$SOURCE}', '"-c", "flash write_image erase {$SOURCE}')
    result, _, _ = run_project_scripts(tmp_path, ["nobuild", "upload"], firmware_bins, sconstruct)
    assert result.returncode == 1
    assert "refusing to upload only one of the two images" in result.stderr


def test_pre_script_refuses_an_upload_that_would_build(tmp_path, firmware_bins):
    result, build_dir, _ = run_project_scripts(tmp_path, ["upload"], firmware_bins)
    assert result.returncode == 1
    assert "this project builds nothing" in result.stderr and "-t nobuild -t upload" in result.stderr
    assert not (build_dir / "firmware.bin").exists()


def test_pre_script_names_the_variable_when_an_image_is_missing(tmp_path, firmware_bins):
    result, _, _ = run_project_scripts(tmp_path, ["nobuild", "upload"], [firmware_bins[0], tmp_path / "absent.bin"])
    assert result.returncode == 1
    assert "MPY_MNIST_FIRMWARE1=" in result.stderr and "mpy-mnist firmware flash --method pio" in result.stderr


def test_scripts_stay_out_of_runs_that_upload_nothing(tmp_path, firmware_bins):
    result, build_dir, _ = run_project_scripts(tmp_path, ["idedata"], firmware_bins)
    assert result.returncode == 0, result.stderr
    assert not (build_dir / "firmware.bin").exists()
