"""`mpy-mnist firmware flash`: method choice, exact tool command lines, the real tools without a board, the ST-LINK
drive, and waiting for the REPL."""

import os
import re
import shutil
import subprocess
import sys
import threading
import tempfile
import time
from pathlib import Path

import pytest
from needs import require_tool
from flash_doubles import (BANNER, StlinkDrive, disco_build, firmware_bins, firmware_hex,  # noqa: F401
                           repl, run_cli, stlink_drive)

from mpy_mnist import disco_image, firmware, flash


@pytest.fixture
def bare_path(tmp_path):
    """A PATH with none of the flashing tools on it."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    return {"PATH": str(empty)}


# --- the images: what the build makes and what the flash check lets through ------------------------------------


def port_make_variables(text: str) -> dict[str, str]:
    return {m[1]: m[2].strip() for m in re.finditer(r"^(\w+)\s*\??=\s*(.*)$", text, re.M)}


def test_the_image_layout_is_micropythons_own():
    # disco_image's two images are the port's TEXT0/TEXT1: the sections its Makefile puts in firmware0.bin and
    # firmware1.bin when a board splits its firmware, the addresses STM32F7DISC gives them, the filesystem between.
    port = firmware.source_dir() / "ports" / "stm32"
    makefile = (port / "Makefile").read_text()
    split = makefile[makefile.index("# TEXT0_ADDR and TEXT1_ADDR are specified"):]
    sections = port_make_variables(split)
    assert tuple(sections["TEXT0_SECTIONS"].split()) == disco_image.TEXT0.sections
    assert tuple(sections["TEXT1_SECTIONS"].split()) == disco_image.TEXT1.sections
    assert "$(BUILD)/firmware0.bin: $(BUILD)/firmware.elf" in split and "$(BUILD)/firmware1.bin" in split
    board = port_make_variables((port / "boards" / "STM32F7DISC" / "mpconfigboard.mk").read_text())
    assert int(board["TEXT0_ADDR"], 16) == disco_image.TEXT0.address
    assert int(board["TEXT1_ADDR"], 16) == disco_image.TEXT1.address
    memory = {m[1]: (int(m[2], 16), int(m[3]) * 1024) for m in re.finditer(
        r"^\s*(\w+)\s*\([rwx]+\)\s*:\s*ORIGIN = (0x[0-9A-Fa-f]+), LENGTH = (\d+)K", 
        (port / "boards" / "stm32f746.ld").read_text(), re.M)}
    assert (memory["FLASH_FS"][0], sum(memory["FLASH_FS"])) == disco_image.FILESYSTEM
    assert (memory["FLASH_START"][0], sum(memory["FLASH_START"])) == (disco_image.TEXT0.address, disco_image.TEXT0.end)
    assert (memory["FLASH_TEXT"][0], sum(memory["FLASH_TEXT"])) == (disco_image.TEXT1.address, disco_image.TEXT1.end)
    assert (memory["DTCM"][0], sum(memory["RAM"])) == disco_image.RAM


def test_the_build_splits_the_elf_into_the_two_images_and_a_hex_of_only_them(disco_build):
    elf = disco_build / "firmware.elf"
    # What the port's own Makefile makes (GENERATE_BIN: objcopy -O binary -j <sections>), made independently here.
    for part in disco_image.PARTS:
        expected = disco_build / f"expected-{part.name}"
        subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", *[a for s in part.sections for a in ("-j", s)],
                        str(elf), str(expected)], check=True)
        assert (disco_build / part.name).read_bytes() == expected.read_bytes()
    images = disco_image.read_hex(disco_build / "firmware.hex")
    assert images == {part: (disco_build / part.name).read_bytes() for part in disco_image.PARTS}
    # The whole-ELF .bin (what firmware.py made before) is zero across the filesystem, and refused.
    whole = disco_build / "whole.bin"
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", str(elf), str(whole)], check=True)
    assert whole.stat().st_size > disco_image.FILESYSTEM[1] - disco_image.TEXT0.address
    with pytest.raises(disco_image.ImageError,
                       match="writes 0x08008000-0x0801FFFF, which lies in 0x08008000-0x0801FFFF"):
        disco_image.read_bins([whole])


def test_the_ports_own_hex_of_the_whole_elf_is_taken_as_the_two_images(disco_build, tmp_path):
    # The port's firmware.hex (GENERATE_HEX: objcopy -O ihex of the whole ELF), which is what MicroPython's download
    # page offers as the board's .hex, holds nothing in the filesystem's sectors: `flash --hex` takes it and writes
    # the two images only.
    whole = tmp_path / "whole.hex"
    subprocess.run(["arm-none-eabi-objcopy", "-O", "ihex", str(disco_build / "firmware.elf"), str(whole)], check=True)
    assert disco_image.read_hex(whole) == {part: (disco_build / part.name).read_bytes() for part in disco_image.PARTS}


def write_hex(path, segments):
    """An Intel HEX file of (address, bytes) segments, as objcopy writes them (type 04 bases, 16-byte records)."""
    lines = []
    for address, data in segments:
        for offset in range(0, len(data), 16):
            at, chunk = address + offset, data[offset:offset + 16]
            for record in (bytes([2, 0, 0, 4]) + (at >> 16).to_bytes(2, "big"),
                           bytes([len(chunk)]) + (at & 0xFFFF).to_bytes(2, "big") + b"\0" + chunk):
                lines.append(":" + (record + bytes([-sum(record) & 0xFF])).hex().upper())
    lines.append(":00000001FF")
    path.write_text("\n".join(lines) + "\n")
    return path


def vectors(sp=0x2004FFF8, reset=0x08020001):
    return sp.to_bytes(4, "little") + reset.to_bytes(4, "little")


@pytest.mark.parametrize("segments,message", [
    ([(0x08000000, vectors()), (0x0801F000, b"\1" * 16), (0x08020000, b"\2" * 64)],
     "writes 0x0801F000-0x0801F00F, which lies in 0x08008000-0x0801FFFF, MicroPython's /flash"),
    ([(0x08000000, vectors() + bytes(0x9000)), (0x08020000, b"\2" * 64)],
     "writes 0x08008000-0x08009007, which lies in 0x08008000-0x0801FFFF"),
    ([(0x08020000, vectors())], "holds nothing for 0x08000000-0x08007FFF"),
    ([(0x08000000, vectors())], "holds nothing for 0x08020000-0x080FFFFF"),
    ([(0x08000000, vectors(sp=0x08010000)), (0x08020000, b"\2" * 64)], "initial stack pointer 0x08010000 is not in"),
    ([(0x08000000, vectors(reset=0x08020000)), (0x08020000, b"\2" * 64)], "reset vector 0x08020000 is not an odd"),
    ([(0x08000000, vectors(reset=0x20010001)), (0x08020000, b"\2" * 64)], "reset vector 0x20010001 is not an odd"),
    ([(0x00000000, vectors()), (0x08020000, b"\2" * 64)], "outside the STM32F746's flash"),
], ids=["in-filesystem", "text0-overflows", "no-text0", "no-text1", "sp-not-in-ram", "reset-even", "reset-in-ram",
        "wrong-start"])
def test_an_image_that_is_not_for_this_board_is_refused_before_anything_runs(tmp_path, segments, message):
    bad = write_hex(tmp_path / "bad.hex", segments)
    result = run_cli("firmware", "flash", "--method", "st-flash", "--hex", str(bad), "--dry-run")
    assert result.returncode == 1
    assert message in result.stderr and str(bad) in result.stderr
    assert "flash (st-flash)" not in result.stdout


def test_a_good_hex_reads_back_as_the_two_images(tmp_path, disco_build):
    good = write_hex(tmp_path / "good.hex", [(0x08000000, vectors()), (0x08020000, b"\2" * 40),
                                              (0x08020030, b"\3" * 8)])
    images = disco_image.read_hex(good)
    assert images[disco_image.TEXT0] == vectors()
    assert images[disco_image.TEXT1] == b"\2" * 40 + b"\xff" * 8 + b"\3" * 8  # the gap inside TEXT1 stays erased


# --- command lines, as each tool documents them, each writing only TEXT0 and TEXT1 -----------------------------


def test_st_flash_writes_each_image_at_its_address_and_resets_after_the_last(firmware_bins):
    # st-flash(1): st-flash [OPTIONS] write FILE ADDR; --reset resets before and after flashing.
    assert flash.commands("st-flash", firmware_bins) == [
        ["st-flash", "write", str(firmware_bins[0]), "0x08000000"],
        ["st-flash", "--reset", "write", str(firmware_bins[1]), "0x08020000"]]


def test_pyocd_loads_both_images_at_their_addresses_erasing_by_sector_without_waiting(firmware_bins):
    # pyocd load/flash: -t TARGET, FILE@ADDRESS for a .bin, -e/--erase sector, -W/--no-wait not to block with no probe.
    assert flash.commands("pyocd", firmware_bins) == [
        ["pyocd", "flash", "--no-wait", "--target", "stm32f746nghx", "--erase", "sector",
         f"{firmware_bins[0]}@0x08000000", f"{firmware_bins[1]}@0x08020000"]]


def test_pyocd_documents_what_the_command_uses():
    require_tool("pyocd", "pip install -e '.[test]' (or pip install pyocd)")
    usage = subprocess.run(["pyocd", "flash", "--help"], capture_output=True, text=True).stdout
    assert "{auto,chip,sector}" in usage and "'app.bin@0x20000'" in usage and "--no-wait" in usage


def test_pyocd_target_is_the_one_pyocd_names_for_the_disco_board_id():
    require_tool("pyocd", "pip install -e '.[test]' (or pip install pyocd)")
    from pyocd.board.board_ids import BOARD_ID_TO_INFO

    assert BOARD_ID_TO_INFO["0815"].name == "DISCO-F746NG"
    assert BOARD_ID_TO_INFO["0815"].target == flash.PYOCD_TARGET


def test_pio_command_uploads_the_project_without_building_with_both_images(firmware_bins):
    (argv,) = flash.commands("pio", firmware_bins)
    assert argv[1:] == ["run", "-d", str(flash.PIO_PROJECT), "-e", "stlink", "-t", "nobuild", "-t", "upload"]
    env = flash.tool_environment("pio", firmware_bins)
    assert [env[name] for name in flash.PIO_IMAGE_VARIABLES] == [str(p.resolve()) for p in firmware_bins]


def written_ranges(method, lines):
    """(file, address) pairs that a dry run's printed lines write, read the way each tool reads its arguments."""
    writes = []
    for line in lines:
        argv = line.split()
        if method == "st-flash":
            i = argv.index("write")
            writes.append((argv[i + 1], int(argv[i + 2], 16)))
        elif method == "pyocd":
            writes += [(arg.split("@")[0], int(arg.split("@")[1], 16)) for arg in argv if "@" in arg]
        elif method == "pio":
            variables = dict(arg.split("=", 1) for arg in argv if "=" in arg and arg.split("=")[0].isupper())
            writes += pio_openocd_writes([Path(variables[name]) for name in flash.PIO_IMAGE_VARIABLES])
    return writes


def pio_openocd_writes(image_paths):
    """What OpenOCD writes under the project's scripts: its `program FILE ADDRESS` commands, from the upload
    arguments the post-script leaves (see test_platformio.py), the staged files traced back to their sources."""
    from test_platformio import openocd_programs, run_project_scripts

    project = Path(tempfile.mkdtemp())
    result, build_dir, flags = run_project_scripts(project, ["nobuild", "upload"], image_paths)
    assert result.returncode == 0, result.stderr
    staged = {build_dir / "firmware.bin": image_paths[0], build_dir / "firmware1.bin": image_paths[1]}
    for copy, source in staged.items():
        assert copy.read_bytes() == source.read_bytes()
    return [(str(staged[path]), address) for path, address in openocd_programs(flags, project)]


@pytest.mark.parametrize("method", ["pio", "st-flash", "pyocd"])
def test_dry_run_commands_write_only_the_two_images(firmware_hex, firmware_bins, method):
    require_tool(method, {"pio": "pip install platformio", "st-flash": "apt-get install stlink-tools",
                          "pyocd": "pip install pyocd"}[method])
    # The build's own two files (a --hex is split into a temporary directory that is gone once the dry run ends).
    result = run_cli("firmware", "flash", "--method", method, "--bin", str(firmware_bins[0]),
                     "--bin", str(firmware_bins[1]), "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = [line.split(": ", 1)[1] for line in result.stdout.splitlines() if line.startswith(f"flash ({method}): ")]
    assert lines
    writes = written_ranges(method, lines)
    images = disco_image.read_hex(firmware_hex)
    assert [address for _, address in writes] == [part.address for part in disco_image.PARTS]
    for (path, address), part in zip(writes, disco_image.PARTS):
        assert Path(path).read_bytes() == images[part]
        end = address + len(images[part])
        assert not (address < disco_image.FILESYSTEM[1] and end > disco_image.FILESYSTEM[0])


@pytest.mark.parametrize("method", ["pio", "st-flash", "pyocd"])
def test_dry_run_with_nothing_built_prints_the_build_paths(tmp_path, method):
    require_tool(method, {"pio": "pip install platformio", "st-flash": "apt-get install stlink-tools",
                          "pyocd": "pip install pyocd"}[method])
    cache = {"MPY_MNIST_CACHE": str(tmp_path)}
    result = run_cli("firmware", "flash", "--method", method, "--dry-run", env=cache)
    assert result.returncode == 0, result.stderr
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MPY_MNIST_CACHE", str(tmp_path))
        expected = flash.describe(method, flash.default_images(), None)
    assert [line.split(": ", 1)[1] for line in result.stdout.splitlines()] == expected
    assert str(tmp_path / "firmware" / "disco-") in result.stdout


def test_a_drive_that_is_not_an_stlink_drive_is_refused(firmware_hex, tmp_path):
    result = run_cli("firmware", "flash", "--drive", str(tmp_path), "--hex", str(firmware_hex), "--dry-run")
    assert result.returncode == 1
    assert f"{tmp_path} is not an ST-LINK drive" in result.stderr


# --- the real tools with no board attached -------------------------------------------------------------------


def test_st_flash_without_a_probe_fails_fast_and_says_what_to_check(firmware_hex):
    require_tool("st-flash", "apt-get install stlink-tools")
    started = time.monotonic()
    result = run_cli("firmware", "flash", "--method", "st-flash", "--hex", str(firmware_hex), timeout=120)
    assert result.returncode == 1
    assert "Couldn't find any ST-Link devices" in result.stdout + result.stderr  # st-flash's own words
    assert "Error: st-flash failed (exit status 255)" in result.stderr
    assert "ST-LINK USB socket (CN14)" in result.stderr
    assert time.monotonic() - started < 60


def test_pyocd_without_a_probe_fails_fast_and_says_what_to_check(firmware_hex):
    require_tool("pyocd", "pip install -e '.[test]' (or pip install pyocd)")
    result = run_cli("firmware", "flash", "--method", "pyocd", "--hex", str(firmware_hex), timeout=120)
    assert result.returncode == 1
    assert "No connected debug probes" in result.stdout + result.stderr  # pyocd's own words, not a wait
    assert "Error: pyocd failed (exit status 1)" in result.stderr
    assert "pyocd pack install stm32f746ng" in result.stderr


# --- nothing to flash with, nothing to flash -----------------------------------------------------------------


def test_no_method_found_names_everything_looked_for_and_how_to_get_it(firmware_hex, bare_path):
    result = run_cli("firmware", "flash", "--hex", str(firmware_hex), env=bare_path)
    assert result.returncode == 1
    message = result.stderr
    for looked_for in ("`pio`", "DIS_F746NG", "MBED.HTM", "DETAILS.TXT", "`st-flash`", "`pyocd`"):
        assert looked_for in message
    for how in ("pip install 'mpy-mnist[board]'", "apt-get install stlink-tools", "pip install pyocd", "--drive"):
        assert how in message


def test_a_named_method_that_is_missing_says_how_to_get_it(firmware_hex, bare_path):
    result = run_cli("firmware", "flash", "--method", "st-flash", "--hex", str(firmware_hex), env=bare_path)
    assert result.returncode == 1
    assert "st-flash is not available here: apt-get install stlink-tools" in result.stderr


def test_missing_image_says_how_to_build_it(tmp_path):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MPY_MNIST_CACHE", str(tmp_path))
        expected = flash.default_images()[0]  # where `firmware build --board disco` puts it
    result = run_cli("firmware", "flash", env={"MPY_MNIST_CACHE": str(tmp_path)})
    assert result.returncode == 1
    assert f"no firmware image at {expected}" in result.stderr
    assert "mpy-mnist firmware build --board disco" in result.stderr and "MICROPY_DIR=" in result.stderr


# --- the ST-LINK drive ----------------------------------------------------------------------------------------


def test_drive_is_found_by_label_and_marker_files(tmp_path, stlink_drive):
    assert flash.find_stlink_drive([tmp_path / "media"]) == stlink_drive
    for marker in stlink_drive.iterdir():
        marker.unlink()
    assert flash.find_stlink_drive([tmp_path / "media"]) is None  # a DIS_F746NG directory alone is not the drive


@pytest.fixture
def whole_bin(tmp_path, disco_build):
    """The one .bin the ST-LINK drive takes: both images, the filesystem's sectors erased between them."""
    path = tmp_path / "firmware.bin"
    path.write_bytes(disco_image.whole(disco_image.read_hex(disco_build / "firmware.hex")))
    return path


def test_drive_copy_waits_for_the_stlink_to_take_the_image(whole_bin, stlink_drive):
    stlink = StlinkDrive(stlink_drive, whole_bin.stat().st_size)
    stlink.start()
    flash.copy_to_drive(whole_bin, stlink_drive, timeout=20)
    stlink.join()
    assert stlink.programmed == whole_bin.read_bytes()


def test_drive_failure_reported_in_fail_txt_becomes_the_error(whole_bin, stlink_drive):
    reason = "The interface firmware FAILED to reset/halt the target MCU"
    StlinkDrive(stlink_drive, whole_bin.stat().st_size, fail_reason=reason).start()
    with pytest.raises(flash.FlashError, match=f"FAIL.TXT says: {reason}"):
        flash.copy_to_drive(whole_bin, stlink_drive, timeout=20)


def test_drive_not_mounted_again_leaves_the_verdict_to_the_repl(whole_bin, stlink_drive):
    stlink = StlinkDrive(stlink_drive, whole_bin.stat().st_size, remount=False)
    stlink.start()
    said = []
    flash.copy_to_drive(whole_bin, stlink_drive, timeout=2, log=said.append)
    assert stlink.programmed == whole_bin.read_bytes()
    assert said == [f"flash: the ST-LINK took the image, but {stlink_drive} was not mounted again to show its verdict"]


def test_drive_that_never_takes_the_image_times_out(whole_bin, stlink_drive):
    started = time.monotonic()
    with pytest.raises(flash.FlashError, match="did not take firmware.bin within 1 s \\(it is still on "):
        flash.copy_to_drive(whole_bin, stlink_drive, timeout=1)
    assert time.monotonic() - started < 5


def test_copy_refuses_a_directory_that_is_not_the_drive(whole_bin, tmp_path):
    with pytest.raises(flash.FlashError, match="is not an ST-LINK drive"):
        flash.copy_to_drive(whole_bin, tmp_path)


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


def test_the_drive_is_refused_without_erase_filesystem_before_anything_is_written(firmware_hex, stlink_drive):
    before = sorted(p.name for p in stlink_drive.iterdir())
    result = run_cli("firmware", "flash", "--method", "stlink-drive", "--drive", str(stlink_drive),
                     "--hex", str(firmware_hex))
    assert result.returncode == 1
    assert ("the ST-LINK drive takes one .bin written from 0x08000000, so it rewrites 0x08008000-0x0801FFFF"
            in result.stderr)
    assert "--erase-filesystem" in result.stderr and "st-flash, pyocd or pio, which keep /flash" in result.stderr
    assert sorted(p.name for p in stlink_drive.iterdir()) == before


def test_flash_through_the_drive_then_print_the_banner(firmware_hex, stlink_drive, repl, tmp_path):
    # The whole command as a user runs it, with the board's two sides played by the doubles.
    images = disco_image.read_hex(firmware_hex)
    whole = disco_image.whole(images)
    stlink = StlinkDrive(stlink_drive, len(whole))
    stlink.start()
    board = repl()
    result = run_cli("firmware", "flash", "--method", "stlink-drive", "--drive", str(stlink_drive),
                     "--erase-filesystem", "--hex", str(firmware_hex), "--port", board.port,
                     env={"MPY_MNIST_WORK": str(tmp_path)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "flash: the ST-LINK drive takes one .bin" in result.stdout  # said before writing
    assert re.search(f"flash \\(stlink-drive\\): copy \\S+/firmware.bin to {stlink_drive}", result.stdout)
    assert "put the model back with `mpy-mnist push`" in result.stdout
    assert BANNER in result.stdout
    stlink.join()
    text0, text1 = (images[part] for part in disco_image.PARTS)
    assert stlink.programmed == whole
    assert whole[:len(text0)] == text0 and whole[disco_image.TEXT1.address - disco_image.TEXT0.address:] == text1
    gap = whole[len(text0):disco_image.TEXT1.address - disco_image.TEXT0.address]
    assert set(gap) == {0xFF}, "the filesystem's sectors are written erased, not zeroed"


def test_push_after_an_erasing_flash_needs_an_export_before_anything_is_written(firmware_hex, stlink_drive, tmp_path):
    before = sorted(p.name for p in stlink_drive.iterdir())
    result = run_cli("firmware", "flash", "--method", "stlink-drive", "--drive", str(stlink_drive),
                     "--erase-filesystem", "--push", "--hex", str(firmware_hex), env={"MPY_MNIST_WORK": str(tmp_path)})
    assert result.returncode == 1
    assert "--push:" in result.stderr and "export a model first" in result.stderr
    assert sorted(p.name for p in stlink_drive.iterdir()) == before


def test_push_after_an_erasing_flash_pushes_the_last_export_again(firmware_hex, stlink_drive, repl, tmp_path,
                                                                   monkeypatch):
    from mpy_mnist import board as boards
    from mpy_mnist import paths, pipeline

    export = tmp_path / "export"
    export.mkdir()
    for name in (paths.MODEL_FILE, paths.DIGITS_FILE):  # a model the board can run: push checks it first
        shutil.copy(paths.DEFAULT_MODEL_DIR / name, export / name)
    monkeypatch.setenv("MPY_MNIST_WORK", str(tmp_path))
    pushed = []
    monkeypatch.setattr(boards, "push", lambda port, plan, **options: pushed.append((port, plan)))
    StlinkDrive(stlink_drive, len(disco_image.whole(disco_image.read_hex(firmware_hex)))).start()
    board = repl()
    said = []
    flash.flash(firmware_hex, method="stlink-drive", drive=stlink_drive, port=board.port, erase_filesystem=True,
                push=True, log=said.append)
    assert pushed == [(board.port, pipeline.push_plan(export))]
    assert any("pushing the last export again" in line for line in said)


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
