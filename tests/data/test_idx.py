import gzip
import struct

import numpy as np
import pytest

from nnlab.data.idx import read_idx
from nnlab.errors import DataError


def _idx(arr: np.ndarray, magic_type: int = 0x08) -> bytes:
    head = bytes([0, 0, magic_type, arr.ndim]) + b"".join(struct.pack(">i", d) for d in arr.shape)
    return head + arr.astype(np.uint8).tobytes()


def test_reads_raw_and_gzip(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a.idx").write_bytes(_idx(arr))
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(_idx(arr)))
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), arr)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx.gz"), arr)


def test_wrong_magic(tmp_path):
    (tmp_path / "x").write_bytes(b"\x12\x34\x56\x78" + b"\0" * 20)
    with pytest.raises(DataError, match="wrong magic number"):
        read_idx(tmp_path / "x")


def test_truncated(tmp_path):
    data = _idx(np.zeros((10, 28, 28), np.uint8))
    (tmp_path / "t.gz").write_bytes(gzip.compress(data[:-100]))
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "t.gz")
    (tmp_path / "h").write_bytes(data[:9])
    with pytest.raises(DataError, match="truncated inside its header"):
        read_idx(tmp_path / "h")


def test_damaged_gzip(tmp_path):
    (tmp_path / "d.gz").write_bytes(gzip.compress(_idx(np.zeros((4, 2), np.uint8)))[:15])
    with pytest.raises(DataError, match="damaged"):
        read_idx(tmp_path / "d.gz")


def test_expected_magic_number_is_checked_before_the_sizes(tmp_path):
    labels = np.arange(5, dtype=np.uint8)
    (tmp_path / "labels.idx").write_bytes(_idx(labels))  # magic 2049, a valid IDX file
    np.testing.assert_array_equal(read_idx(tmp_path / "labels.idx", 2049), labels)
    with pytest.raises(DataError, match=r"wrong magic number 2049 \(0x00000801\); expected 2051 \(0x00000803: uint8 "
                                        r"images, rank 3\)"):
        read_idx(tmp_path / "labels.idx", 2051)
