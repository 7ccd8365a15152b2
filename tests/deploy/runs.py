"""Quick trained runs for the deployment tests (digits MLP, LeNet-5 on a tiny folder, kNN)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nnlab
from nnlab.engine import checkpoint
from nnlab.engine.runs import RunDir
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


def make_detect_run(root: Path) -> Path:
    """A tiny YOLO on 48 px digit scenes (letterboxed, so uploads of any shape are placed with padding);
    a low score threshold so that even two epochs give detections to compare. The scenes are drawn from
    scikit-learn's digits even where ../shared has MNIST, so the run's scores are the same on every machine."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("nnlab.data.boxes.scenes.shared_places", lambda *_: [])
        return _fit_detect_run(root)


def _fit_detect_run(root: Path) -> Path:
    cfg = {"name": "yolo", "seed": 0, "task": "detect",
           "data": {"dataset": "scenes", "image_size": [48, 48], "val_fraction": 0.1, "resize_mode": "letterbox"},
           "detect": {"scenes": {"n": 36, "n_test": 8, "digits": [1, 2], "scale": [1.0, 1.5]}},
           "model": {"name": "yolo", "width": 4, "neck_width": 8, "score_thresh": 0.007, "max_detections": 10},
           "optim": {"name": "adam", "lr": 0.01}, "train": {"epochs": 2, "batch_size": 8}}
    return nnlab.fit(cfg, runs_root=root / "runs", progress=False).dir


def make_mask_run(root: Path) -> Path:
    """A tiny Mask R-CNN on 64 px digit scenes (letterboxed, 2 epochs; scikit-learn's digits as for the YOLO
    run); a zero score threshold and at most 5 detections. Two epochs leave every mask probability just under
    0.5 (empty masks), so the saved weights' mask logits are raised by 0.3: each detection's mask then covers
    most of its box, something to compare."""
    cfg = {"name": "mask_rcnn", "seed": 0, "task": "detect",
           "data": {"dataset": "scenes", "image_size": [64, 64], "val_fraction": 0.1, "resize_mode": "letterbox"},
           "detect": {"scenes": {"n": 16, "n_test": 4, "digits": [1, 2], "scale": [1.5, 2.0]}},
           "model": {"name": "mask_rcnn", "width": 4, "neck_width": 8, "fc_width": 16, "mask_width": 8,
                     "anchor_scale": 2, "score_thresh": 0.0, "max_detections": 5},
           "optim": {"name": "adam", "lr": 0.01}, "train": {"epochs": 2, "batch_size": 8}}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("nnlab.data.boxes.scenes.shared_places", lambda *_: [])
        run = nnlab.fit(cfg, runs_root=root / "runs", progress=False).dir
    best = RunDir(run).best
    state = checkpoint.load(best)
    state["model"]["head.roi_heads.mask_predictor.mask_fcn_logits.bias"] += 0.3
    checkpoint.save(state, best)
    return run


def make_segment_run(root: Path) -> Path:
    """A tiny U-Net on 16 px generated shapes."""
    cfg = {"name": "unet", "seed": 0, "task": "segment", "data": {"dataset": "shapes", "image_size": [16, 16]},
           "segment": {"shapes": 46}, "model": {"name": "unet", "depth": 1, "width": 4},
           "optim": {"name": "adam", "lr": 0.01}, "train": {"epochs": 2, "batch_size": 8}}
    return nnlab.fit(cfg, runs_root=root / "runs", progress=False).dir


def photo_files(root: Path, sizes: tuple[tuple[int, int], ...] = ((96, 64), (48, 48), (40, 72))) -> list[Path]:
    """RGB photos of several shapes (width, height): bright blobs on a dark noisy ground."""
    from PIL import Image

    rng = np.random.default_rng(7)
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (w, h) in enumerate(sizes):
        arr = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
        for _ in range(3):
            x, y = int(rng.integers(0, w - 12)), int(rng.integers(0, h - 12))
            arr[y: y + 12, x: x + 12] = 230
        paths.append(root / f"photo{i}.png")
        Image.fromarray(arr).save(paths[-1])
    return paths
