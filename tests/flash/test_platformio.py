"""firmware/disco: the PlatformIO project that uploads our prebuilt image, checked with PlatformIO's own code."""

import os
from pathlib import Path

import pytest
from conftest import require_tool
from flash_doubles import firmware_bin, run_cli  # noqa: F401 (a fixture)

from mpy_mnist import flash

PROJECT = flash.PIO_PROJECT
PRE_SCRIPT = PROJECT / "prebuilt_firmware.py"


@pytest.fixture
def config():
    try:
        from platformio.project.config import ProjectConfig
    except ImportError:
        pytest.fail("platformio is not installed: pip install -e '.[test]' (or pip install platformio)", pytrace=False)
    return ProjectConfig(str(PROJECT / "platformio.ini"))


def test_ini_passes_platformio_lint_without_warnings(config):
    from platformio.project.config import ProjectConfig

    # Unknown or misspelt options are warnings in PlatformIO's lint, so none at all are allowed.
    assert ProjectConfig.lint(str(PROJECT / "platformio.ini")) == {"errors": [], "warnings": []}
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
        assert (PROJECT / "prebuilt_firmware.py").is_file()


class BuildEnv:
    """The part of PlatformIO's SCons construction environment the pre-script uses (subst, Replace, Exit)."""

    def __init__(self, build_dir: Path):
        self.vars = {"BUILD_DIR": str(build_dir), "PROGNAME": "program"}  # PlatformIO's default PROGNAME

    def subst(self, text):
        for name, value in self.vars.items():
            text = text.replace("${%s}" % name, value).replace("$" + name, value)
        return text

    def Replace(self, **values):  # noqa: N802 (SCons's name)
        self.vars.update(values)

    def Exit(self, code):  # noqa: N802
        raise SystemExit(code)


def run_pre_script(build_env, targets, bin_path):
    """Execute prebuilt_firmware.py as SCons does: with Import() and COMMAND_LINE_TARGETS in its globals."""
    namespace = {"COMMAND_LINE_TARGETS": targets, "__name__": "SCons.Script"}
    namespace["Import"] = lambda name: namespace.__setitem__(name, build_env)
    saved = os.environ.get(flash.PIO_BIN_VARIABLE)
    os.environ[flash.PIO_BIN_VARIABLE] = str(bin_path)
    try:
        exec(compile(PRE_SCRIPT.read_text(), str(PRE_SCRIPT), "exec"), namespace)
    finally:
        if saved is None:
            del os.environ[flash.PIO_BIN_VARIABLE]
        else:
            os.environ[flash.PIO_BIN_VARIABLE] = saved


def test_pre_script_puts_our_image_where_the_nobuild_upload_takes_it(tmp_path, firmware_bin):
    build_env = BuildEnv(tmp_path / ".pio" / "build" / "stlink")
    run_pre_script(build_env, ["nobuild", "upload"], firmware_bin)
    # ststm32's main.py uploads $BUILD_DIR/${PROGNAME}.bin under `nobuild`; PlatformIO's UploadToDisk copies the same.
    staged = tmp_path / ".pio" / "build" / "stlink" / "firmware.bin"
    assert build_env.vars["PROGNAME"] == "firmware"
    assert staged.read_bytes() == firmware_bin.read_bytes()


def test_pre_script_refuses_an_upload_that_would_build(tmp_path, firmware_bin, capsys):
    with pytest.raises(SystemExit):
        run_pre_script(BuildEnv(tmp_path), ["upload"], firmware_bin)
    assert "-t nobuild -t upload" in capsys.readouterr().err


def test_pre_script_names_the_variable_when_the_image_is_missing(tmp_path, capsys):
    with pytest.raises(SystemExit):
        run_pre_script(BuildEnv(tmp_path), ["nobuild", "upload"], tmp_path / "absent.bin")
    err = capsys.readouterr().err
    assert flash.PIO_BIN_VARIABLE in err and "mpy-mnist firmware flash --method pio" in err


def test_pre_script_stays_out_of_runs_that_upload_nothing(tmp_path, firmware_bin):
    build_dir = tmp_path / "build"
    run_pre_script(BuildEnv(build_dir), ["idedata"], firmware_bin)
    assert not build_dir.exists()


@pytest.fixture
def fresh_platformio(tmp_path):
    """PlatformIO with an empty core directory, as just installed, and its .pio workspace out of the repository."""
    require_tool("pio", "pip install -e '.[test]' (or pip install platformio)")
    return {"PLATFORMIO_CORE_DIR": str(tmp_path / "platformio-core"),
            "PLATFORMIO_WORKSPACE_DIR": str(tmp_path / "workspace")}


def test_pio_upload_really_runs_our_project_and_fails_clearly_offline(firmware_bin, fresh_platformio):
    # PlatformIO fetches its ststm32 platform from its own registry, which this machine cannot reach: the real
    # `pio run` gets as far as reading our project, then fails, and we say why.
    result = run_cli("firmware", "flash", "--method", "pio", "--bin", str(firmware_bin), env=fresh_platformio)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Processing stlink (platform: ststm32; board: disco_f746ng)" in output
    assert "Error: pio failed (exit status 1)" in result.stderr
    assert "needs the network once" in result.stderr
