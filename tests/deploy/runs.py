"""Quick trained runs for the deployment tests (digits MLP, LeNet-5 on a tiny folder, kNN)."""
from __future__ import annotations

from pathlib import Path

import nnlab
from tests.conftest import write_image_folder


def make_run(root: Path, kind: str) -> Path:
    """Train a small run of ``kind`` (mlp | lenet | knn) under ``root`` and return its directory."""
    data: dict = {"dataset": "digits"}
    model: dict = {"mlp": {"name": "mlp", "hidden": [32]}, "lenet": {"name": "lenet5"},
                   "knn": {"name": "knn", "k": 3}}[kind]
    if kind == "lenet":
        folder = write_image_folder(root / "imgs", {"dark": 12, "mid": 12, "bright": 12}, size=(28, 28))
        data = {"dataset": "folder", "path": str(folder), "image_size": [28, 28], "channels": 1}
    cfg = {"name": kind, "seed": 0, "data": data, "model": model, "optim": {"name": "sgd", "lr": 0.1},
           "train": {"epochs": 1, "batch_size": 64}}
    return nnlab.fit(cfg, runs_root=root / "runs", progress=False).dir


def image_files(root: Path, n: int = 5) -> list[Path]:
    """A few small grayscale PNGs of varied brightness and size (preprocessing resizes them)."""
    folder = write_image_folder(root / "probe", {"a": n}, size=(14, 11), seed=3)
    return sorted((folder / "a").glob("*.png"))
