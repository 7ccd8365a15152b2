"""Synthetic segmentation scenes generated in memory (``data.dataset: shapes``): noisy backgrounds with a few
rectangles (class 1) and discs (class 2) of random size, place and tint. Seeded, no files, a second to make:
for tests, smoke runs and checking a model can learn before reading real photos."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from nnlab.data.masks import MaskDataset, voc_palette

CLASSES = ["background", "rectangle", "disc"]


def _scene(rng: np.random.Generator, h: int, w: int, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """One image uint8 (C, H, W) and its mask uint8 (H, W)."""
    img = rng.normal(90, 25, (channels, h, w))  # (C, H, W) background texture
    mask = np.zeros((h, w), np.uint8)
    yy, xx = np.mgrid[:h, :w]
    for _ in range(rng.integers(1, 4)):
        cls = int(rng.integers(1, 3))
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(0.1, 0.3) * h, rng.uniform(0.1, 0.3) * w
        if cls == 1:
            inside = (abs(yy - cy) <= ry) & (abs(xx - cx) <= rx)
        else:
            inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / ry * h / w) ** 2 <= 1
        tint = rng.uniform(150, 240, (channels, 1)) if cls == 1 else rng.uniform(20, 70, (channels, 1))
        img[:, inside] = tint + rng.normal(0, 15, (channels, int(inside.sum())))
        mask[inside] = cls
    return np.clip(img, 0, 255).astype(np.uint8), mask


def make_shapes(n: int = 200, size: Sequence[int] = (64, 64), channels: int = 3, seed: int = 0) -> MaskDataset:
    """``n`` scenes of ``size`` (H, W): images uint8 (n, C, H, W), masks uint8 (n, H, W) with ids 0..2."""
    rng = np.random.default_rng(seed)
    h, w = size
    images, masks = zip(*(_scene(rng, h, w, channels) for _ in range(n)))
    return MaskDataset(torch.from_numpy(np.stack(images)), torch.from_numpy(np.stack(masks)), list(CLASSES),
                       [f"shapes/{i:05d}" for i in range(n)], voc_palette(len(CLASSES)))
