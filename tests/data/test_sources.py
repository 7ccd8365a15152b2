import pickle

import numpy as np
import pytest

from nnlab.data import sources
from nnlab.errors import DataError, UserError


def test_digits_builtin():
    d = sources.load_splits("digits")["train"]
    assert d.images.shape == (1797, 1, 8, 8) and d.images.max() == 255
    assert d.classes == [str(i) for i in range(10)]


def test_cifar10_pickles(tmp_path):
    base = tmp_path / "cifar-10-batches-py"
    base.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 255, (4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 9]}
        (base / name).write_bytes(pickle.dumps(batch))
    (base / "batches.meta").write_bytes(pickle.dumps({b"label_names": [f"c{i}".encode() for i in range(10)]}))
    splits = sources.load_splits("cifar10", path=str(tmp_path))
    assert splits["train"].images.shape == (20, 3, 32, 32) and len(splits["test"]) == 4
    assert splits["train"].classes[9] == "c9"


def test_mnist_errors(tmp_path):
    with pytest.raises(UserError, match="needs data.path"):
        sources.load_splits("mnist")
    with pytest.raises(DataError, match="not found"):
        sources.load_splits("mnist", path=str(tmp_path / "nope"))
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        sources.load_splits("mnist", path=str(tmp_path))


def test_mnist_label_count_mismatch(tmp_path):
    import gzip
    import struct

    def idx(arr):
        return bytes([0, 0, 8, arr.ndim]) + b"".join(struct.pack(">i", d) for d in arr.shape) + arr.tobytes()

    for prefix, n_img, n_lbl in (("train", 5, 4), ("t10k", 2, 2)):
        (tmp_path / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx(np.zeros((n_img, 28, 28), np.uint8))))
        (tmp_path / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx(np.zeros(n_lbl, np.uint8))))
    with pytest.raises(DataError, match="5 images but 4 labels"):
        sources.load_splits("mnist", path=str(tmp_path))


@pytest.mark.slow
def test_real_mnist(mnist_dir):
    splits = sources.load_splits("mnist", path=str(mnist_dir))
    assert splits["train"].images.shape == (60000, 1, 28, 28) and len(splits["test"]) == 10000
    assert splits["test"].class_counts() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert abs(splits["train"].images.double().mean().item() - 33.32) < 0.01


@pytest.mark.slow
def test_mnist_download_option_uses_files_already_present(tmp_path, mnist_dir):
    """download: true goes through torchvision, which finds the files in place and fetches nothing."""
    import gzip

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in mnist_dir.glob("*.gz"):
        (raw / f.name[:-3]).write_bytes(gzip.decompress(f.read_bytes()))
    splits = sources.load_splits("mnist", path=str(tmp_path), download=True)
    assert len(splits["train"]) == 60000 and len(splits["test"]) == 10000


def test_cifar_batch_that_would_run_code_is_refused(tmp_path):
    from tests.conftest import malicious_pickle

    base, marker = tmp_path / "cifar-10-batches-py", tmp_path / "pwned"
    base.mkdir()
    (base / "batches.meta").write_bytes(malicious_pickle(marker, wrap=False))
    with pytest.raises(DataError, match="batches.meta cannot be read: it refers to posix.system.*refuses"):
        sources.load_splits("cifar10", path=str(tmp_path))
    assert not marker.exists()


def test_cifar_batches_pickled_with_protocol_2_as_shipped_load(tmp_path):
    for proto in (2, 5):
        base = tmp_path / str(proto) / "cifar-100-python"
        base.mkdir(parents=True)
        for name in ("train", "test"):
            batch = {b"data": np.zeros((2, 3072), np.uint8), b"fine_labels": [1, 0], b"filenames": [b"a", b"b"]}
            (base / name).write_bytes(pickle.dumps(batch, protocol=proto))
        (base / "meta").write_bytes(pickle.dumps({b"fine_label_names": [b"x", b"y"]}, protocol=proto))
        assert sources.load_splits("cifar100", path=str(base.parent))["train"].classes == ["x", "y"]
