"""The pointing game (Zhang et al. 2016): a map "points" at the object when its maximum falls inside the box of
the explained class. Accuracy over images, against chance = the boxes' share of the image area."""
from __future__ import annotations

from typing import Sequence

import torch


def peak(maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column (N,) of each map's maximum (N, H, W); the first in raster order on ties."""
    idx = maps.flatten(1).argmax(1)
    return idx // maps.shape[2], idx % maps.shape[2]


def empty(maps: torch.Tensor) -> torch.Tensor:
    """(N,) bool: map i is constant (all zero after a ReLU, say) and so has no peak."""
    flat = maps.flatten(1)
    return flat.amax(1) == flat.amin(1)


def pointing_hits(maps: torch.Tensor, boxes: Sequence[torch.Tensor]) -> torch.Tensor:
    """(N,) bool: the peak of map i lies in one of boxes[i] (K_i, 4) xyxy pixel boxes (x2, y2 exclusive); a
    constant map points nowhere (a miss, not its first pixel)."""
    rows, cols = peak(maps)
    hits = []
    for r, c, b, none in zip(rows.tolist(), cols.tolist(), boxes, empty(maps).tolist()):
        if none:
            hits.append(False)
            continue
        b = b.reshape(-1, 4)
        inside = (b[:, 0] <= c + 0.5) & (c + 0.5 <= b[:, 2]) & (b[:, 1] <= r + 0.5) & (r + 0.5 <= b[:, 3])
        hits.append(bool(inside.any()))
    return torch.tensor(hits, dtype=torch.bool)


def chance(boxes: Sequence[torch.Tensor], height: int, width: int) -> float:
    """The hit rate of a peak placed uniformly at random: the mean share of pixel centres inside the boxes."""
    shares = []
    for b in boxes:
        mask = torch.zeros(height, width, dtype=torch.bool)
        for x1, y1, x2, y2 in b.reshape(-1, 4).tolist():
            mask[max(0, round(y1)):round(y2), max(0, round(x1)):round(x2)] = True
        shares.append(float(mask.float().mean()))
    return sum(shares) / max(1, len(shares))
