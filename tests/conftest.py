"""Shared fixtures: tiny data, the shared datasets (skipped when absent), CLI runner."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"


def shared_dataset(name: str) -> Path:
    path = SHARED / name
    if not path.is_dir():
        pytest.skip(f"../shared/datasets/{name} is not present")
    return path


@pytest.fixture
def mnist_dir() -> Path:
    return shared_dataset("mnist")


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """Run ``python -m nnlab ARGS`` in a subprocess (the way a user runs it)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "nnlab", *args], cwd=cwd or ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, **kw)


@pytest.fixture
def cli():
    return run_cli


def write_image_folder(root: Path, classes: dict[str, int], size: tuple[int, int] = (12, 10),
                       mode: str = "L", seed: int = 0) -> Path:
    """Class folders of small random images whose mean brightness depends on the class (learnable)."""
    rng = np.random.default_rng(seed)
    for ci, (name, n) in enumerate(classes.items()):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            base = 40 + 80 * ci
            arr = np.clip(rng.normal(base, 20, size=(size[0], size[1], 3 if mode == "RGB" else 1)), 0, 255)
            img = Image.fromarray(arr.astype(np.uint8).squeeze(), mode if mode != "L" else None)
            img.save(folder / f"{i}.png")
    return root


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    return write_image_folder(tmp_path / "imgs", {"dark": 30, "mid": 30, "bright": 30})


@pytest.fixture
def digits_config(tmp_path: Path) -> dict:
    """A fast digits config (a few epochs) whose runs go to tmp_path."""
    return {"name": "t", "seed": 0, "data": {"dataset": "digits"},
            "model": {"name": "mlp", "hidden": [32]}, "optim": {"name": "sgd", "lr": 0.1},
            "train": {"epochs": 2, "batch_size": 64}}


@pytest.fixture
def one_thread():
    """One CPU thread: many small forward passes run fastest (and fairest) so on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class _RunsCommand:
    """Unpickling this calls ``os.system(command)``: the payload of a malicious checkpoint or batch."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):  # noqa: ANN204
        return os.system, (self.command,)


def malicious_checkpoint(path: Path, marker: Path) -> Path:
    """A torch.save checkpoint (zip format) whose loading with weights_only=False would create ``marker``."""
    torch.save({"model": _RunsCommand(f"touch {marker}")}, path)
    return path


def malicious_pickle(marker: Path, wrap: bool = True) -> bytes:
    """Pickle bytes that, if ever unpickled, create ``marker`` (tests prove that file never appears)."""
    import pickle

    payload = _RunsCommand(f"touch {marker}")
    return pickle.dumps({"model": payload} if wrap else payload, protocol=2)


def huge_png(path: Path, width: int, height: int) -> Path:
    """A few-hundred-byte grayscale PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb:
    the rows it holds are all zeros; it is never fully decoded by the tests)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress(b"\0" * (width + 1) * 4)  # the first 4 rows (filter byte + pixels), compressed
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) \
        + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    path.write_bytes(png)
    return path
