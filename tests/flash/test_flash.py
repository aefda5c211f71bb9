"""`mpy-mnist firmware flash`: method choice, exact tool command lines, the real tools without a board, the ST-LINK
drive, and waiting for the REPL."""

import os
import re
import subprocess
import sys
import threading
import time

import pytest
from needs import require_tool
from flash_doubles import (BANNER, StlinkDrive, firmware_bin, repl, run_cli,  # noqa: F401 (fixtures)
                           stlink_drive)

from mpy_mnist import firmware, flash


@pytest.fixture
def bare_path(tmp_path):
    """A PATH with none of the flashing tools on it."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    return {"PATH": str(empty)}


# --- command lines, as each tool documents them ---------------------------------------------------------------


def test_st_flash_command_is_the_documented_write_with_reset(firmware_bin):
    # st-flash(1): st-flash [OPTIONS] write FILE ADDR; --reset resets before and after flashing.
    assert flash.command("st-flash", firmware_bin) == ["st-flash", "--reset", "write", str(firmware_bin), "0x08000000"]


def test_pyocd_command_loads_the_bin_at_the_start_of_flash_without_waiting(firmware_bin):
    # pyocd load/flash: -t TARGET, -a/--base-address for a .bin, -W/--no-wait not to block with no probe.
    assert flash.command("pyocd", firmware_bin) == [
        "pyocd", "flash", "--no-wait", "--target", "stm32f746nghx", "--base-address", "0x08000000", str(firmware_bin)]


def test_pyocd_target_is_the_one_pyocd_names_for_the_disco_board_id():
    require_tool("pyocd", "pip install -e '.[test]' (or pip install pyocd)")
    from pyocd.board.board_ids import BOARD_ID_TO_INFO

    assert BOARD_ID_TO_INFO["0815"].name == "DISCO-F746NG"
    assert BOARD_ID_TO_INFO["0815"].target == flash.PYOCD_TARGET


@pytest.mark.parametrize("env", flash.PIO_ENVS)
def test_pio_command_uploads_the_project_env_without_building(firmware_bin, env):
    argv = flash.command("pio", firmware_bin, env)
    assert argv[1:] == ["run", "-d", str(flash.PIO_PROJECT), "-e", env, "-t", "nobuild", "-t", "upload"]
    assert flash.tool_environment("pio", firmware_bin)[flash.PIO_BIN_VARIABLE] == str(firmware_bin.resolve())


@pytest.mark.parametrize("method", ["pio", "st-flash", "pyocd"])
def test_dry_run_prints_the_command_it_would_run(firmware_bin, method):
    require_tool(method, {"pio": "pip install platformio", "st-flash": "apt-get install stlink-tools",
                          "pyocd": "pip install pyocd"}[method])
    result = run_cli("firmware", "flash", "--method", method, "--bin", str(firmware_bin), "--dry-run")
    assert result.returncode == 0, result.stderr
    expected = " ".join(flash.command(method, firmware_bin))
    assert result.stdout.strip().endswith(expected)


# --- the real tools with no board attached -------------------------------------------------------------------


def test_st_flash_without_a_probe_fails_fast_and_says_what_to_check(firmware_bin):
    require_tool("st-flash", "apt-get install stlink-tools")
    started = time.monotonic()
    result = run_cli("firmware", "flash", "--method", "st-flash", "--bin", str(firmware_bin), timeout=120)
    assert result.returncode == 1
    assert "Couldn't find any ST-Link devices" in result.stdout + result.stderr  # st-flash's own words
    assert "Error: st-flash failed (exit status 255)" in result.stderr
    assert "ST-LINK USB socket (CN14)" in result.stderr
    assert time.monotonic() - started < 60


def test_pyocd_without_a_probe_fails_fast_and_says_what_to_check(firmware_bin):
    require_tool("pyocd", "pip install -e '.[test]' (or pip install pyocd)")
    result = run_cli("firmware", "flash", "--method", "pyocd", "--bin", str(firmware_bin), timeout=120)
    assert result.returncode == 1
    assert "No connected debug probes" in result.stdout + result.stderr  # pyocd's own words, not a wait
    assert "Error: pyocd failed (exit status 1)" in result.stderr
    assert "pyocd pack install stm32f746ng" in result.stderr


# --- nothing to flash with, nothing to flash -----------------------------------------------------------------


def test_no_method_found_names_everything_looked_for_and_how_to_get_it(firmware_bin, bare_path):
    result = run_cli("firmware", "flash", "--bin", str(firmware_bin), env=bare_path)
    assert result.returncode == 1
    message = result.stderr
    for looked_for in ("`pio`", "DIS_F746NG", "MBED.HTM", "DETAILS.TXT", "`st-flash`", "`pyocd`"):
        assert looked_for in message
    for how in ("pip install 'mpy-mnist[board]'", "apt-get install stlink-tools", "pip install pyocd", "--drive"):
        assert how in message


def test_a_named_method_that_is_missing_says_how_to_get_it(firmware_bin, bare_path):
    result = run_cli("firmware", "flash", "--method", "st-flash", "--bin", str(firmware_bin), env=bare_path)
    assert result.returncode == 1
    assert "st-flash is not available here: apt-get install stlink-tools" in result.stderr


def test_missing_image_says_how_to_build_it(tmp_path, monkeypatch):
    monkeypatch.setenv("MPY_MNIST_CACHE", str(tmp_path))
    expected = firmware.build_dir("disco") / "firmware.bin"  # where `firmware build --board disco` puts it
    result = run_cli("firmware", "flash", env={"MPY_MNIST_CACHE": str(tmp_path)})
    assert result.returncode == 1
    assert f"no firmware image at {expected}" in result.stderr
    assert "mpy-mnist firmware build --board disco" in result.stderr and "MICROPY_DIR=" in result.stderr


def test_an_image_larger_than_the_flash_is_refused(tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(flash.FLASH_SIZE + 1))
    with pytest.raises(flash.FlashError, match="1 to 1048576 bytes"):
        flash.check_bin(big)


# --- the ST-LINK drive ----------------------------------------------------------------------------------------


def test_drive_is_found_by_label_and_marker_files(tmp_path, stlink_drive):
    assert flash.find_stlink_drive([tmp_path / "media"]) == stlink_drive
    for marker in stlink_drive.iterdir():
        marker.unlink()
    assert flash.find_stlink_drive([tmp_path / "media"]) is None  # a DIS_F746NG directory alone is not the drive


def test_drive_copy_waits_for_the_stlink_to_take_the_image(firmware_bin, stlink_drive):
    stlink = StlinkDrive(stlink_drive, firmware_bin.stat().st_size)
    stlink.start()
    flash.copy_to_drive(firmware_bin, stlink_drive, timeout=20)
    stlink.join()
    assert stlink.programmed == firmware_bin.read_bytes()


def test_drive_failure_reported_in_fail_txt_becomes_the_error(firmware_bin, stlink_drive):
    reason = "The interface firmware FAILED to reset/halt the target MCU"
    StlinkDrive(stlink_drive, firmware_bin.stat().st_size, fail_reason=reason).start()
    with pytest.raises(flash.FlashError, match=f"FAIL.TXT says: {reason}"):
        flash.copy_to_drive(firmware_bin, stlink_drive, timeout=20)


def test_drive_not_mounted_again_leaves_the_verdict_to_the_repl(firmware_bin, stlink_drive):
    stlink = StlinkDrive(stlink_drive, firmware_bin.stat().st_size, remount=False)
    stlink.start()
    said = []
    flash.copy_to_drive(firmware_bin, stlink_drive, timeout=2, log=said.append)
    assert stlink.programmed == firmware_bin.read_bytes()
    assert said == [f"flash: the ST-LINK took the image, but {stlink_drive} was not mounted again to show its verdict"]


def test_drive_that_never_takes_the_image_times_out(firmware_bin, stlink_drive):
    started = time.monotonic()
    with pytest.raises(flash.FlashError, match="did not take firmware.bin within 1 s \\(it is still on "):
        flash.copy_to_drive(firmware_bin, stlink_drive, timeout=1)
    assert time.monotonic() - started < 5


def test_copy_refuses_a_directory_that_is_not_the_drive(firmware_bin, tmp_path):
    with pytest.raises(flash.FlashError, match="is not an ST-LINK drive"):
        flash.copy_to_drive(firmware_bin, tmp_path)


# --- the REPL after flashing ----------------------------------------------------------------------------------


def test_repl_banner_is_read_after_ctrl_b(repl):
    board = repl()
    assert flash.wait_for_repl(board.port, timeout=10) == BANNER
    assert b"\x03\x03\x02" in board.received  # interrupted whatever ran, then asked for the banner


def test_a_repl_without_banner_still_counts_as_up(repl):
    assert flash.wait_for_repl(repl(banner=None).port, timeout=2) == ">>>"


def test_a_silent_port_times_out_saying_so(repl):
    board = repl(prompt=False)
    started = time.monotonic()
    with pytest.raises(flash.FlashError, match=f"within 2 s no MicroPython REPL answered on {board.port}$"):
        flash.wait_for_repl(board.port, timeout=2)
    assert time.monotonic() - started < 5


def test_a_port_that_comes_back_late_is_waited_for(repl, tmp_path):
    # After programming, the ST-LINK re-enumerates: its serial port is gone for a moment, then back.
    board = repl()
    late_port = tmp_path / "ttyACM0"
    threading.Timer(1.5, late_port.symlink_to, [board.port]).start()
    assert flash.wait_for_repl(str(late_port), timeout=15) == BANNER


def test_no_board_port_times_out_naming_the_usb_ids():
    if flash.find_repl_port() is not None:
        pytest.fail("a board serial port is attached to this machine: unplug it to run this test", pytrace=False)
    with pytest.raises(flash.FlashError, match="within 1 s no board serial port appeared .*0483:374b"):
        flash.wait_for_repl(None, timeout=1)


def test_flash_through_the_drive_then_print_the_banner(firmware_bin, stlink_drive, repl):
    # The whole command as a user runs it, with the board's two sides played by the doubles.
    stlink = StlinkDrive(stlink_drive, firmware_bin.stat().st_size)
    stlink.start()
    board = repl()
    result = run_cli("firmware", "flash", "--method", "stlink-drive", "--drive", str(stlink_drive),
                     "--bin", str(firmware_bin), "--port", board.port, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"flash (stlink-drive): copy {firmware_bin} to {stlink_drive}" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == BANNER
    stlink.join()
    assert stlink.programmed == firmware_bin.read_bytes()


def test_flash_module_imports_no_platformio():
    # platformio is an optional extra (`mpy-mnist[board]`): the CLI must work without it.
    code = "import sys, mpy_mnist.cli; sys.exit('platformio' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=str(flash.paths.REPO_ROOT / "host"))
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


# --- the REPL wait against real MicroPython: the emulated Cortex-M7 board on QEMU's serial pty ----------------


@pytest.fixture(scope="module")
def emulated_board(emulator_firmware):
    from mpy_mnist import emulator

    with emulator.start(emulator_firmware) as emulated:
        yield emulated


@pytest.mark.emulator
def test_real_micropython_banner_is_read_from_its_serial_port(emulated_board):
    banner = flash.wait_for_repl(emulated_board.port, timeout=30)
    assert re.fullmatch(r"MicroPython v1\.25\.0 on \S+; .+ with .+", banner), banner


@pytest.mark.emulator
def test_a_running_program_is_interrupted_before_the_banner(emulated_board):
    import serial

    with serial.Serial(emulated_board.port, 115200, timeout=0.5) as link:
        link.write(b"\x03\r")
        link.read(256)
        link.write(b"while True: pass\r\r")  # a program that never gives the REPL back on its own
        time.sleep(0.5)
        assert not link.read(256).rstrip().endswith(b">>>")
    banner = flash.wait_for_repl(emulated_board.port, timeout=30)
    assert banner.startswith("MicroPython v1.25.0")
