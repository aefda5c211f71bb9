"""Helpers for the host <-> board tests: run the CLI, the quick model's options, and a serial relay that can cut
the link in the middle of a transfer."""

import os
import select
import subprocess
import sys
import threading
import tty
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# A quick model (seconds of training), as `mpy-mnist train-and-push` options.
QUICK = {"model": "cnn", "epochs": 1, "seed": 1, "train_subset": 3000, "count": 40}


def cli(*args, timeout=600, **kwargs):
    """Run `mpy-mnist ARGS` from this checkout as a user would; returns the CompletedProcess (text)."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "host"))
    return subprocess.run([sys.executable, "-m", "mpy_mnist", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout, **kwargs)


def cli_popen(*args, **kwargs):
    env = dict(os.environ, PYTHONPATH=str(REPO / "host"))
    return subprocess.Popen([sys.executable, "-m", "mpy_mnist", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs)


class Relay:
    """A pty that forwards, byte for byte, to the board's serial port, counting what the host sends.

    When the host has sent `cut_after` bytes, `on_cut()` is called and forwarding stops: the test either kills
    the process on the other end or hangs the link up, in the middle of whatever was being copied.
    """

    def __init__(self, board_port, cut_after, on_cut):
        self.board = os.open(board_port, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.board)
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.port = os.ttyname(slave)
        self.slave = slave  # held open so the pty lives until we close it
        self.cut_after = cut_after
        self.on_cut = on_cut
        self.sent = 0
        self.cut = threading.Event()
        self.thread = threading.Thread(target=self._forward, daemon=True)
        self.thread.start()

    def _forward(self):
        while not self.cut.is_set():
            ready, _, _ = select.select([self.master, self.board], [], [], 0.1)
            if self.master in ready:
                try:
                    data = os.read(self.master, 4096)
                except OSError:  # the host closed its end
                    data = b""
                if data:
                    os.write(self.board, data)
                    self.sent += len(data)
                    if self.sent >= self.cut_after:
                        self.cut.set()
                        self.on_cut()
                        return
            if self.board in ready:
                os.write(self.master, os.read(self.board, 4096))

    def hang_up(self):
        """Close our end of the pty: the host sees the link drop, as when a USB cable is pulled."""
        os.close(self.master)
        self.master = -1

    def close(self):
        self.cut.set()
        self.thread.join(5)
        for fd in (self.master, self.slave, self.board):
            if fd < 0:
                continue
            try:
                os.close(fd)
            except OSError:
                pass
