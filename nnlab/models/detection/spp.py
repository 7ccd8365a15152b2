"""RoI pooling on one shared feature map (the notes' step from R-CNN to Fast R-CNN: crop features, not pixels).

``SpatialPyramidPool`` is SPPNet's layer (He et al. 2014), written here: each RoI's window on the map is
max-pooled into n x n bins for every pyramid level n (default 1, 2, 4) and the bins concatenated, a fixed-length
vector whatever the RoI's size. Corners are projected by rounding, as torchvision's ``roi_pool`` does, so
level n equals ``roi_pool`` with an n x n output (tested) for RoIs inside the map (at the border
the window is clipped first, as SPPNet does, where roi_pool bins the unclipped RoI).
``RoIPooler`` wraps ``torchvision.ops.roi_pool`` / ``roi_align`` (Fast R-CNN / Mask R-CNN) with the same call
as torchvision's ``MultiScaleRoIAlign``.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_align, roi_pool

from nnlab.models.layers import check_choice

POOLS = ("spp", "roi_pool", "roi_align")


def spp_one(fmap: torch.Tensor, box: torch.Tensor, scale: float, levels: Sequence[int]) -> torch.Tensor:
    """(C, H, W) map, one (4,) xyxy box in image pixels -> (C * sum(n^2),) pooled vector."""
    _, h, w = fmap.shape
    x1, y1, x2, y2 = (box * scale + 0.5).floor().long().tolist()  # round half up (box coords are >= 0)
    x1, x2 = min(max(x1, 0), w - 1), min(max(x2, x1), w - 1)
    y1, y2 = min(max(y1, 0), h - 1), min(max(y2, y1), h - 1)
    window = fmap[:, y1:y2 + 1, x1:x2 + 1]  # (C, h_r, w_r), at least 1 x 1
    return torch.cat([F.adaptive_max_pool2d(window, n).flatten() for n in levels])


class SpatialPyramidPool(nn.Module):
    """``forward(features, proposals, image_shapes)`` -> (R, C * sum(n^2)) for all images' RoIs in order."""

    def __init__(self, name: str, stride: int, levels: Sequence[int] = (1, 2, 4)) -> None:
        super().__init__()
        self.name, self.scale, self.levels = name, 1.0 / stride, tuple(levels)
        self.bins = sum(n * n for n in self.levels)

    def forward(self, features: dict[str, torch.Tensor], proposals: list[torch.Tensor],
                image_shapes: list[tuple[int, int]]) -> torch.Tensor:
        fmap = features[self.name]  # (B, C, H, W)
        rows = [spp_one(fmap[b], box, self.scale, self.levels) for b, boxes in enumerate(proposals) for box in boxes]
        if not rows:
            return fmap.new_zeros(0, fmap.shape[1] * self.bins)
        return torch.stack(rows)  # (R, C * bins)


class RoIPooler(nn.Module):
    """``roi_pool`` (max over rounded bins, Fast R-CNN) or ``roi_align`` (bilinear samples, Mask R-CNN) on one
    map -> (R, C, size, size)."""

    def __init__(self, kind: str, name: str, stride: int, size: int = 7) -> None:
        super().__init__()
        check_choice("pool", kind, POOLS[1:])
        self.kind, self.name, self.scale, self.size = kind, name, 1.0 / stride, size
        self.bins = size * size

    def forward(self, features: dict[str, torch.Tensor], proposals: list[torch.Tensor],
                image_shapes: list[tuple[int, int]]) -> torch.Tensor:
        x = features[self.name]
        boxes = [p.to(x.dtype) for p in proposals]
        if self.kind == "roi_pool":
            return roi_pool(x, boxes, self.size, self.scale)
        return roi_align(x, boxes, self.size, self.scale, sampling_ratio=2, aligned=True)


def build_pool(kind: str, name: str, stride: int, size: int = 7) -> SpatialPyramidPool | RoIPooler:
    check_choice("pool", kind, POOLS)
    return SpatialPyramidPool(name, stride) if kind == "spp" else RoIPooler(kind, name, stride, size)
