"""Tiny trained runs to explain: a digits MLP and a digits ResNet-20 (in-place ReLUs, batch norm), one epoch each;
a tiny YOLO on digit scenes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import nnlab


def fit_one_thread(cfg: dict, root: Path) -> Path:
    """Train a config on one thread (tiny models: threads only add overhead); the run folder."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return nnlab.fit(cfg, runs_root=root, progress=False).dir
    finally:
        torch.set_num_threads(before)


def _fit(root: Path, name: str, model: dict, train_size: int | None = None) -> Path:
    cfg = {"name": name, "seed": 0, "data": {"dataset": "digits", "train_size": train_size},
           "model": model, "optim": {"name": "adam", "lr": 0.01},
           "train": {"epochs": 1, "batch_size": 32, "checkpoint": {"keep_last": 0}}}
    return fit_one_thread(cfg, root)


@pytest.fixture(scope="session")
def mlp_run(tmp_path_factory) -> Path:
    return _fit(tmp_path_factory.mktemp("runs"), "mlp", {"name": "mlp", "hidden": [64]})


@pytest.fixture(scope="session")
def cnn_run(tmp_path_factory) -> Path:
    return _fit(tmp_path_factory.mktemp("runs"), "cnn", {"name": "resnet20"}, train_size=128)


@pytest.fixture(scope="session")
def digit_pngs(tmp_path_factory) -> list[Path]:
    """Three 8x8 grayscale digit files (0, 1, 2) and an RGB file for the channel check (last)."""
    from sklearn.datasets import load_digits

    root, d = tmp_path_factory.mktemp("images"), load_digits()
    paths = []
    for i in range(3):
        paths.append(root / f"digit{i}.png")
        Image.fromarray((d.images[i] * 16).clip(0, 255).astype(np.uint8)).save(paths[-1])
    paths.append(root / "colour.png")
    Image.fromarray(np.full((8, 8, 3), (255, 0, 0), np.uint8)).save(paths[-1])
    return paths


@pytest.fixture(scope="session")
def detect_run(tmp_path_factory) -> Path:
    cfg = {"name": "det", "task": "detect", "data": {"dataset": "scenes", "image_size": [48, 48], "val_fraction": 0.1},
           "detect": {"scenes": {"n": 36, "n_test": 8, "digits": [1, 2], "scale": [1.0, 1.5]}},
           "model": {"name": "yolo", "width": 4, "neck_width": 8, "score_thresh": 0.0},
           "optim": {"name": "adam", "lr": 0.01}, "train": {"epochs": 1, "batch_size": 8}}
    return fit_one_thread(cfg, tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="session")
def scene_png(tmp_path_factory) -> Path:
    """One 48x48 digit scene (RGB) for the detection run."""
    from nnlab.data.boxes.scenes import generate_scenes

    img = tmp_path_factory.mktemp("scene") / "scene.png"
    Image.fromarray(generate_scenes(1, 48, (1, 1), (1.0, 1.5), seed=5).images[0].permute(1, 2, 0).numpy()).save(img)
    return img
