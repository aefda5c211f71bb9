"""From training to the board: what `push` sends (checked first: the board must be able to run it) and
`train-and-push` (a model trained once per set of inputs, kept in the cache, exported, pushed and run).

The arrows point one way: cli -> pipeline -> train, export, board. board.py only moves bytes.
"""

import contextlib
import hashlib
import json
from pathlib import Path

from . import board, export, paths
from .outputs import atomic_path, check_writable

TRAINED_SOURCES = ("data.py", "models.py", "train.py", "convert.py", "export.py", "bitmaps.py", "paths.py")


# --- what a push sends -----------------------------------------------------------------------------------------


def device_python_files():
    """[(local path, path under DEVICE_DIR)] of the device app's packages, from device_python/package.json when it
    lists them, else every package directory (one with __init__.py) under device_python/."""
    root = paths.DEVICE_PYTHON_DIR
    manifest = root / "package.json"
    if manifest.exists():
        urls = json.loads(manifest.read_text()).get("urls", [])
        return [(root / src, dest) for dest, src in urls if (root / src).is_file()]
    files = []
    for init in sorted(root.glob("*/__init__.py")):
        for source in sorted(init.parent.rglob("*.py")):
            files.append((source, source.relative_to(root).as_posix()))
    return files


# The pushed files the app on the board can do without: device_python/mnist/files.py falls back to the model and
# digits frozen into our firmware when /flash has no usable copy. {remote path: frozen module}
STAND_INS = {f"{paths.DEVICE_DIR}/{paths.MODEL_FILE}": paths.MODEL_MODULE,
             f"{paths.DEVICE_DIR}/{paths.DIGITS_FILE}": paths.DIGITS_MODULE}


def push_files(port, plan, **options):
    """board.push with the app's stand-ins (STAND_INS); options: board.push's progress, log, sending."""
    return board.push(port, plan, stand_ins=STAND_INS, **options)


def push_plan(export_dir, force=False):
    """[(local path, remote path)] that `push` copies: the model, the digit set, the device app's packages (which
    board.push leaves out when the board's firmware has them frozen, as ours does).

    The model is loaded first with the device engine on this machine (export.check_device_model): a model the board
    cannot run raises export.ModelError before anything is sent, unless force.
    """
    export_dir = Path(export_dir)
    plan = []
    for name in (paths.MODEL_FILE, paths.DIGITS_FILE):
        local = export_dir / name
        if not local.is_file():
            raise FileNotFoundError(
                f"{local} not found: export a model first (`mpy-mnist export --out {export_dir}`), "
                f"or pass the directory that holds {paths.MODEL_FILE} and {paths.DIGITS_FILE}"
            )
        plan.append((local, f"{paths.DEVICE_DIR}/{name}"))
    if not force:
        export.check_device_model(plan[0][0].read_bytes(), plan[0][0])
    for local, dest in device_python_files():
        plan.append((local, f"{paths.DEVICE_DIR}/{dest}"))
    return plan


# --- train-and-push ----------------------------------------------------------------------------------------------


def training_key(options, data_dir):
    """Hex digest of what a trained and exported model depends on: the options, the MNIST files, the code."""
    import tensorflow as tf

    from . import __version__

    digest = hashlib.sha256()
    digest.update(json.dumps(options, sort_keys=True).encode())
    for path in sorted(Path(data_dir).iterdir()):
        if path.is_file() and "ubyte" in path.name:
            digest.update(path.name.encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(f"{__version__} tensorflow {tf.__version__}".encode())
    package_dir = Path(__file__).parent
    for name in TRAINED_SOURCES:
        digest.update((package_dir / name).read_bytes())
    return digest.hexdigest()


def trained_export(options, log=print):
    """The export directory (model.tflite, digits.bin, ...) of a model trained with options, from the cache when
    one was made from the same inputs, else trained, converted and exported now into the cache.

    options: model, epochs, seed, train_subset, count (as `mpy-mnist train` and `export` take them).
    Returns (export dir, reused?).
    """
    from . import data, train

    data_dir = data.find_mnist()
    key = training_key(options, data_dir)
    entry = paths.cache_dir() / "trained" / key[:20]
    export_dir = entry / "export"
    done = entry / "options.json"  # written last: its presence means the entry is complete
    if done.is_file():
        return export_dir, True
    log(f"training {options['model']} ({options['epochs']} epochs) into {entry}")
    model_path = entry / paths.MODEL_FILE
    train.train_to_file(
        out=model_path, model=options["model"], epochs=options["epochs"], seed=options["seed"],
        train_subset=options["train_subset"], data_dir=data_dir, verbose=2,
    )
    export.export(model_path, out_dir=export_dir, count=options["count"], data_dir=data_dir)
    done.write_text(json.dumps(options, indent=2) + "\n")
    return export_dir, False


def train_and_push(port, options, run_count, delay_ms, screenshot=None, log=print, push=push_files,
                   attached=None):
    """Train (or reuse), export, push with push(device, plan), run `mnist.run(count=run_count)` on the board with
    its output live; with an emulated board, save its LCD at screenshot (default build/emulator-lcd.png).
    attached(device, emulated), when given, is a context manager that the push and the run happen inside (the
    CLI's --view page)."""
    picture = Path(screenshot or paths.work_dir() / "emulator-lcd.png")
    if screenshot or port == board.EMULATOR_PORT:
        check_writable(picture)  # before the training
    export_dir, reused = trained_export(options, log=log)
    log(f"model: {export_dir / paths.MODEL_FILE}" + (" (cached: same options, data and code)" if reused else ""))
    plan = push_plan(export_dir)
    with board.board_port(port, start_emulator=True, log=log) as (device, emulated), \
            (attached or _nothing_attached)(device, emulated):
        push(device, plan)
        if run_count:
            board.run(device, f"import mnist\nmnist.run(count={run_count}, delay_ms={delay_ms})\n".encode())
        if emulated:
            picture.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(picture) as temporary:
                emulated.screenshot(temporary)
            log(f"the emulated board's LCD: {picture.resolve()}")


@contextlib.contextmanager
def _nothing_attached(device, emulated):
    yield
