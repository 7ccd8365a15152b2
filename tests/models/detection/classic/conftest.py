"""Tiny synthetic detection scenes: scikit-learn's 8x8 digits (upscaled) pasted on a dark canvas at known boxes."""
from __future__ import annotations

import pytest
import torch


def make_scenes(n: int = 8, size: int = 48, digits: tuple[int, ...] = (0, 1), per_image: int = 1, scale: int = 2,
                seed: int = 0) -> tuple[torch.Tensor, list[dict]]:
    """``n`` grey (1, size, size) uint8 images with ``per_image`` non-overlapping digits of side 8*scale each;
    labels are the index of the digit in ``digits``."""
    from sklearn.datasets import load_digits

    data = load_digits()
    gen = torch.Generator().manual_seed(seed)
    side = 8 * scale
    images = torch.randint(0, 30, (n, 1, size, size), generator=gen).to(torch.uint8)
    targets = []
    for i in range(n):
        boxes, labels = [], []
        while len(boxes) < per_image:
            x, y = (int(v) for v in torch.randint(0, size - side + 1, (2,), generator=gen))
            if any(x < b[2] and b[0] < x + side and y < b[3] and b[1] < y + side for b in boxes):
                continue
            k = int(torch.randint(0, len(digits), (1,), generator=gen))
            pool = (data.target == digits[k]).nonzero()[0]
            glyph = torch.tensor(data.images[pool[int(torch.randint(0, len(pool), (1,), generator=gen))]])
            glyph = (glyph * 15).repeat_interleave(scale, 0).repeat_interleave(scale, 1)  # (side, side) 0..240
            region = images[i, 0, y: y + side, x: x + side]
            images[i, 0, y: y + side, x: x + side] = torch.maximum(region, glyph.to(torch.uint8))
            boxes.append([x, y, x + side, y + side])
            labels.append(k)
        targets.append({"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                        "labels": torch.tensor(labels, dtype=torch.int64)})
    return images, targets


@pytest.fixture
def scenes():
    return make_scenes


def assert_well_formed(result: dict, classes: int) -> None:
    """The conventions' eval output for one image."""
    assert set(result) == {"boxes", "scores", "labels"}
    m = len(result["scores"])
    assert result["boxes"].shape == (m, 4) and result["boxes"].dtype == torch.float32
    assert result["labels"].shape == (m,) and result["labels"].dtype == torch.int64
    if m:
        boxes = result["boxes"]
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
        assert 0 <= int(result["labels"].min()) and int(result["labels"].max()) < classes
