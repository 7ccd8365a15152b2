"""MNIST-format IDX files (gzip or raw), read with their magic number and sizes checked."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from nnlab.errors import DataError

IMAGES, LABELS = 2051, 2049  # MNIST's magic numbers: uint8 rank 3, uint8 rank 1
_DESCRIBE = {IMAGES: "uint8 images, rank 3", LABELS: "uint8 labels, rank 1"}
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path, magic: int | None = None) -> np.ndarray:
    """Parse an IDX file: 2 zero bytes, a type byte, a rank byte, big-endian int32 sizes, data.
    ``magic``: the number the file must start with (MNIST: 2051 images, 2049 labels), so a changed type or
    rank byte is reported as what it is, not as a length mismatch further on."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"IDX file not found: {path}")
    try:
        raw = gzip.decompress(path.read_bytes()) if _is_gzip(path) else path.read_bytes()
    except (OSError, EOFError) as e:
        raise DataError(f"IDX file {path} is damaged: {e}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        magic = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
        raise DataError(f"{path} is not an IDX file (wrong magic number {magic!r}; expected 2049 for labels "
                        "or 2051 for images)")
    found = int.from_bytes(raw[:4], "big")
    if magic is not None and found != magic:
        raise DataError(f"{path} has the wrong magic number {found} (0x{found:08x}); expected {magic} "
                        f"(0x{magic:08x}: {_DESCRIBE.get(magic, 'this file')})")
    dtype, rank = np.dtype(_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * rank
    if len(raw) < header:
        raise DataError(f"IDX file {path} is truncated inside its header")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    expected = header + int(np.prod(dims)) * dtype.itemsize
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "longer than its header says"
        raise DataError(f"IDX file {path} is {what}: {len(raw)} bytes, header says {expected} "
                        f"(dims {dims})")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(2) == b"\x1f\x8b"
