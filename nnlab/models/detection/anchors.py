"""Anchors (base boxes) and the YOLO box coding.

``kmeans_anchors`` is YOLOv2's dimension clustering: k-means on the training boxes' (w, h) with the distance
1 - IoU (boxes aligned at one corner), so big boxes do not dominate as they would with Euclidean distance;
the result is the "tall, wide, square" base boxes of the notes, learned from data. ``cell_anchors`` lays
anchors at every cell centre; ``pyramid_sizes`` is RetinaNet's 3 scales per octave at 4x each level's stride.
"""
from __future__ import annotations

from typing import Sequence

import torch

from nnlab.errors import ConfigError, DataError


def wh_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of (n, 2) and (k, 2) box sizes placed at the same corner -> (n, k)."""
    inter = torch.min(a[:, None, 0], b[None, :, 0]) * torch.min(a[:, None, 1], b[None, :, 1])
    return inter / (a[:, None].prod(-1) + b[None].prod(-1) - inter)


def kmeans_anchors(boxes: torch.Tensor, k: int, iters: int = 100) -> torch.Tensor:
    """(k, 2) anchor sizes (w, h), smallest area first, from (n, 4) xyxy boxes by k-means with d = 1 - IoU."""
    wh = (boxes[:, 2:] - boxes[:, :2]).float()  # (n, 2)
    wh = wh[(wh > 0).all(1)]
    if len(wh) < k:
        raise DataError(f"k-means anchors need at least {k} training boxes, found {len(wh)}")
    order = wh.prod(1).argsort()
    centers = wh[order[((torch.arange(k) + 0.5) * len(wh) / k).long()]].clone()  # area quantiles: deterministic
    assign = torch.full((len(wh),), -1)
    for _ in range(iters):
        new = wh_iou(wh, centers).argmax(1)  # nearest = highest IoU
        if torch.equal(new, assign):
            break
        assign = new
        for j in range(k):
            if (assign == j).any():
                centers[j] = wh[assign == j].mean(0)
    return centers[centers.prod(1).argsort()]


def mean_best_iou(boxes: torch.Tensor, anchors: torch.Tensor) -> float:
    """Average over boxes of the best anchor IoU (the paper's 'Avg IOU' figure of merit)."""
    wh = (boxes[:, 2:] - boxes[:, :2]).float()
    return float(wh_iou(wh, anchors).max(1).values.mean())


def check_anchors_fit(sizes_wh: torch.Tensor, input_size: Sequence[int], what: str = "anchor") -> None:
    """Refuse anchors wider or taller than the input: no box in the image could match them."""
    h, w = input_size
    too_big = (sizes_wh[:, 0] > w) | (sizes_wh[:, 1] > h)
    if too_big.any():
        aw, ah = sizes_wh[too_big][0].tolist()
        raise ConfigError(f"{what} {aw:g}x{ah:g} (w x h) does not fit the {h}x{w} input: use smaller anchors "
                          f"(anchor_scale), fewer levels or a larger input_size")


def pyramid_sizes(strides: Sequence[int], scale: float = 4.0, octave_scales: int = 3) -> tuple[tuple[float, ...], ...]:
    """Per level, ``scale * stride * 2^(i / octave_scales)`` for i < octave_scales (RetinaNet: 32 px at stride 8)."""
    return tuple(tuple(scale * s * 2 ** (i / octave_scales) for i in range(octave_scales)) for s in strides)


def sizes_to_wh(sizes: Sequence[float], ratios: Sequence[float]) -> torch.Tensor:
    """(len(sizes) * len(ratios), 2) (w, h) with w * h = size^2 and h / w = ratio (torchvision's convention)."""
    return torch.tensor([[s / r ** 0.5, s * r ** 0.5] for r in ratios for s in sizes])


def cell_anchors(grid: tuple[int, int], stride: int, wh: torch.Tensor) -> torch.Tensor:
    """(H * W * A, 4) xyxy anchors of sizes ``wh`` (A, 2) centred on every cell of an H x W grid, cell-major."""
    h, w = grid
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    centers = (torch.stack([xs, ys], -1).reshape(-1, 1, 2).to(wh) + 0.5) * stride  # (H*W, 1, 2)
    half = wh[None] / 2  # (1, A, 2)
    return torch.cat([centers - half, centers + half], -1).reshape(-1, 4)


def yolo_encode(boxes: torch.Tensor, anchors_wh: torch.Tensor, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    """YOLOv2 coding of (n, 4) boxes against their (n, 2) anchors: the cell (gx, gy) holding each centre and
    t = (x offset in the cell in [0, 1), y offset, log(w / pw), log(h / ph)) -> cells (n, 2) long, t (n, 4)."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2 / stride  # (n, 2) in cells
    cells = centre.floor().long()
    wh = boxes[:, 2:] - boxes[:, :2]
    return cells, torch.cat([centre - cells, (wh / anchors_wh).log()], 1)


def yolo_decode(t: torch.Tensor, cells: torch.Tensor, anchors_wh: torch.Tensor, stride: int) -> torch.Tensor:
    """Inverse of ``yolo_encode`` (broadcasting over leading dims): centre = (cell + offset) * stride,
    size = anchor * exp(t_wh) -> xyxy."""
    centre = (cells + t[..., :2]) * stride
    half = anchors_wh * t[..., 2:].exp() / 2
    return torch.cat([centre - half, centre + half], -1)
