"""Errors when no board answers: a port that does not exist, a port where nothing speaks MicroPython.
Host only: the silent "board" is a pty with nobody on the other end."""

import os

from boardlink import cli
from mpy_mnist import paths


# The default model and digits: files the board runs, so that the push gets as far as the port.
GOOD_EXPORT = paths.DEFAULT_MODEL_DIR


def test_push_to_a_missing_port_says_so():
    result = cli("push", "--port", "/dev/ttyNOSUCHPORT", "--from", str(GOOD_EXPORT))
    assert result.returncode == 1
    assert "there is no serial port /dev/ttyNOSUCHPORT" in result.stderr
    assert "mpy-mnist ports" in result.stderr


def test_push_to_a_silent_port_times_out_naming_it():
    master, slave = os.openpty()
    try:
        port = os.ttyname(slave)
        result = cli("push", "--port", port, "--from", str(GOOD_EXPORT), timeout=60)
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


def test_the_transport_knows_nothing_of_training():
    """board.py moves bytes; what to push and the train-and-push pipeline live in pipeline.py."""
    import ast

    from mpy_mnist import board

    tree = ast.parse(open(board.__file__).read())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level
                for alias in node.names}
    assert not imported & {"data", "train", "convert", "export", "evaluate", "pipeline", "models"}, imported
    assert not {"tensorflow", "keras"} & {alias.name.split(".")[0] for node in ast.walk(tree)
                                         if isinstance(node, ast.Import) for alias in node.names}
