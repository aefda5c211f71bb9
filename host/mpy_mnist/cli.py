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


@cli.group()
def firmware():
    """MicroPython 1.25.0 firmware with the tflite module, the device app and the default model frozen in."""


@firmware.command("build")
@click.option("--board", type=click.Choice(["unix", "emulator", "disco"]), required=True,
              help="unix: the unix port for tests; emulator: QEMU mps2-an500 (Cortex-M7); disco: STM32F746G-DISCO.")
@click.option("-j", "--jobs", default=2, show_default=True, help="Parallel make jobs.")
def firmware_build(board, jobs):
    """Build the firmware for BOARD and print the path of the file to run or flash.

    Reads the MicroPython source ($MICROPY_DIR, else fetched into the cache), cmodules/, device_python/ and
    firmware/default_model/; writes the build into the cache (MPY_MNIST_CACHE, default ~/.cache/mpy-mnist).
    """
    from . import firmware as builds

    try:
        click.echo(builds.build(board, jobs=jobs))
    except builds.FirmwareError as err:
        raise click.ClickException(str(err)) from None


@cli.command()
@click.option("--firmware", "firmware_path", type=click.Path(exists=True, dir_okay=False),
              help="Emulator firmware (.elf); default: build it (`firmware build --board emulator`).")
@click.option("--icount", is_flag=True, help="Deterministic time: one virtual nanosecond per instruction.")
def emulate(firmware_path, icount):
    """Run the emulated board (QEMU mps2-an500) until Ctrl-C.

    Prints the serial port to use with mpremote (`mpremote connect PORT run demo.py`) and notes the running
    emulator in the cache so that `mpy-mnist screenshot` finds it.
    """
    import signal

    from . import emulator
    from . import firmware as builds

    try:
        emu = emulator.start(firmware_path, icount=icount)
    except (emulator.EmulatorError, builds.FirmwareError) as err:
        raise click.ClickException(str(err)) from None
    signal.signal(signal.SIGTERM, lambda *_: emu.stop())
    emulator.save_state(emu)
    click.echo(f"Emulator running (pid {emu.pid}). Serial port: {emu.port}")
    click.echo(f"  mpremote connect {emu.port} run device_python/demo.py")
    click.echo("Stop with Ctrl-C.")
    try:
        emu.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
        emulator.clear_state(emu)
    click.echo("Emulator stopped.")


@cli.command()
@click.option("--out", default="lcd.png", show_default=True, type=click.Path(dir_okay=False),
              help="PNG file to write.")
def screenshot(out):
    """Save the LCD of the running emulator (started with `mpy-mnist emulate`) as a PNG."""
    from . import emulator

    try:
        path = emulator.attach().screenshot(out)
    except emulator.EmulatorError as err:
        raise click.ClickException(str(err)) from None
    click.echo(path)
