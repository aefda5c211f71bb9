"""The `mpy-mnist` command line: click commands only, each calling one function in a module beside it."""

from pathlib import Path

import click

from . import __version__, flash


@click.group()
@click.version_option(__version__, prog_name="mpy-mnist")
def cli():
    """Handwritten-digit recognition inside MicroPython.

    Train an MNIST model on this machine, convert it to an int8 .tflite, export it with a set of
    test digits, build MicroPython firmware that runs it, and put it on an STM32F746G-DISCO board
    or on the emulated Cortex-M7 board.
    """


@cli.group()
def firmware():
    """Build and flash MicroPython firmware."""


@firmware.command("flash")
@click.option("--method", type=click.Choice(flash.METHODS),
              help="How to reach the board (default: the first found of pio, stlink-drive, st-flash, pyocd).")
@click.option("--bin", "bin_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Firmware image to write at 0x08000000 (default: the disco build in the cache).")
@click.option("--drive", type=click.Path(file_okay=False, path_type=Path),
              help="Mount point of the ST-LINK drive (default: found by its label DIS_F746NG).")
@click.option("--pio-env", type=click.Choice(flash.PIO_ENVS), default="stlink", show_default=True,
              help="PlatformIO env of firmware/disco/platformio.ini: stlink (OpenOCD) or mbed (the ST-LINK drive).")
@click.option("--port", help="Serial port of the board's REPL (default: found by USB id, ST-LINK VCP 0483:374B).")
@click.option("--dry-run", is_flag=True, help="Only print the method and the command it would run.")
def firmware_flash(method, bin_path, drive, pio_env, port, dry_run):
    """Write the disco firmware onto an STM32F746G-DISCO and print the banner of its REPL.

    Reads the .bin (--bin, default `<cache>/firmware/disco/firmware.bin`); runs PlatformIO on firmware/disco,
    copies onto the ST-LINK drive, or runs st-flash or pyocd, with their output live; then waits for MicroPython
    on the board's serial port.
    """
    try:
        banner = flash.flash(bin_path or flash.default_bin(), method, drive, pio_env, port, dry_run,
                             log=click.echo)
    except flash.FlashError as exc:
        raise click.ClickException(str(exc)) from None
    if banner:
        click.echo(banner)


def main():
    cli()
