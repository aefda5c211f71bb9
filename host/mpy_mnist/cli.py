"""The `mpy-mnist` command line: click commands only, each calling one function in a module beside it."""

import click

from . import __version__


@click.group()
@click.version_option(__version__, prog_name="mpy-mnist")
def cli():
    """Handwritten-digit recognition inside MicroPython.

    Train an MNIST model on this machine, convert it to an int8 .tflite, export it with a set of
    test digits, build MicroPython firmware that runs it, and put it on an STM32F746G-DISCO board
    or on the emulated Cortex-M7 board.
    """


def main():
    cli()
