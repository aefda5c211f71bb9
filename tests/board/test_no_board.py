"""Errors when no board answers: a port that does not exist, a port where nothing speaks MicroPython.
Host only: the silent "board" is a pty with nobody on the other end."""

import os

from boardlink import cli
from mpy_mnist import paths


def export_dir_with_files(tmp_path):
    (tmp_path / paths.MODEL_FILE).write_bytes(b"\0\0\0\0TFL3" + bytes(100))
    (tmp_path / paths.DIGITS_FILE).write_bytes(b"MNDG" + bytes(20))
    return tmp_path


def test_push_to_a_missing_port_says_so(tmp_path):
    result = cli("push", "--port", "/dev/ttyNOSUCHPORT", "--from", str(export_dir_with_files(tmp_path)))
    assert result.returncode == 1
    assert "there is no serial port /dev/ttyNOSUCHPORT" in result.stderr
    assert "mpy-mnist ports" in result.stderr


def test_push_to_a_silent_port_times_out_naming_it(tmp_path):
    master, slave = os.openpty()
    try:
        port = os.ttyname(slave)
        result = cli("push", "--port", port, "--from", str(export_dir_with_files(tmp_path)), timeout=60)
    finally:
        os.close(master)
        os.close(slave)
    assert result.returncode == 1
    assert f"no MicroPython board answers on {port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_push_without_an_export_names_the_command_that_makes_one(tmp_path):
    result = cli("push", "--port", "/dev/null", "--from", str(tmp_path))
    assert result.returncode == 1
    assert f"{tmp_path / paths.MODEL_FILE} not found" in result.stderr
    assert "mpy-mnist export" in result.stderr


def test_ports_keeps_micropython_boards_and_st_links(monkeypatch):
    """The USB-id filter, over pyserial's own port records (no USB board is attached to this machine)."""
    from serial.tools import list_ports, list_ports_common

    from mpy_mnist import board

    def port(device, vid=None, pid=None):
        info = list_ports_common.ListPortInfo(device, skip_link_detection=True)
        info.vid, info.pid = vid, pid
        return info

    monkeypatch.setattr(list_ports, "comports", lambda: [
        port("/dev/ttyS0"),                          # a motherboard UART: no USB id
        port("/dev/ttyUSB0", 0x0403, 0x6001),        # an FTDI cable: not a MicroPython board
        port("/dev/ttyACM1", 0xF055, 0x9800),        # MicroPython's own USB CDC
        port("/dev/ttyACM0", 0x0483, 0x374B),        # the DISCO board's ST-LINK/V2-1
    ])
    found = board.list_ports()
    assert [device for device, _ in found] == ["/dev/ttyACM0", "/dev/ttyACM1"]
    assert "ST-LINK" in found[0][1] and "0483:374b" in found[0][1]
