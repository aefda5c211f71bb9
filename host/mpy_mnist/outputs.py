"""Writing what the commands make, without losing work: every output location is checked before the long part
(training, evaluating), and every file is written whole or not at all."""

import contextlib
import os
import tempfile
from pathlib import Path


class OutputError(OSError):
    """An output location cannot be written; the message names it."""


def check_writable(*targets) -> None:
    """Fail now if a target file cannot be written: make its folder and a scratch file in it (as root, permission
    bits say nothing, so the check writes)."""
    for target in map(Path, targets):
        if target.is_dir():
            raise OutputError(f"cannot write {target}: it is a directory; choose another --out")
        in_the_way = next((folder for folder in target.parents if folder.exists() and not folder.is_dir()), None)
        if in_the_way:
            raise OutputError(f"cannot write {target}: {in_the_way} is a file, not a folder; choose another --out")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}."):
                pass
        except OSError as error:
            where = f" ({error.filename})" if error.filename else ""
            raise OutputError(f"cannot write {target}: {error.strerror or error}{where}; choose another --out") \
                from None


@contextlib.contextmanager
def atomic_path(path):
    """A temporary path beside `path` (same suffix: Keras and matplotlib go by it) to write to; renamed over path
    when the block succeeds, removed when it fails."""
    path = Path(path)
    temporary = path.with_name(f".{path.stem}.part{path.suffix}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_atomically(path, content) -> None:
    """Write bytes or text to path through atomic_path."""
    with atomic_path(path) as temporary:
        if isinstance(content, bytes):
            temporary.write_bytes(content)
        else:
            temporary.write_text(content)
