"""Tiny synthetic segmentation data (discs and rectangles on 32x32) and a bounded overfitting loop."""
from __future__ import annotations

import pytest
import torch

from nnlab.metrics.segmentation import SegmentationMetrics


def shapes_batch(n: int = 4, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 3, size, size) float images and (n, size, size) masks: class 1 = a random disc or rectangle."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    masks = torch.zeros(n, size, size, dtype=torch.long)
    for i in range(n):
        cy, cx = torch.randint(8, size - 8, (2,), generator=g).tolist()
        r = int(torch.randint(4, 9, (1,), generator=g))
        if i % 2:
            masks[i] = ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r).long()
        else:
            masks[i, max(0, cy - r): cy + r, max(0, cx - r - 2): cx + r + 2] = 1
    colour = torch.rand(n, 3, 1, 1, generator=g)
    images = torch.randn(n, 3, size, size, generator=g) * 0.3 + masks[:, None] * colour + 0.2
    return images, masks


def overfit(model: torch.nn.Module, steps: int = 150, lr: float = 3e-3, n: int = 4) -> float:
    """Train on one batch with Adam until mIoU > 0.95 (checked every 10 steps) or ``steps``; returns the mIoU."""
    torch.manual_seed(0)
    x, y = shapes_batch(n)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    miou = 0.0
    for step in range(steps):
        model.train()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 9:
            model.eval()
            with torch.no_grad():
                metrics = SegmentationMetrics(2)
                metrics.update(model(x), y)
                miou = metrics.compute()["miou"]
            if miou > 0.95:
                break
    return miou


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    return shapes_batch()
