"""DetectNet (NVIDIA DIGITS, Barker et al. 2016): a fully convolutional net predicts, on a grid of stride s,
a **coverage** map (is this cell inside an object of class k?) and a **bbox** map (the object's corners
relative to the cell centre); covered cells then vote boxes that are **clustered** into detections
(DIGITS used OpenCV's groupRectangles; here: greedy IoU grouping, members averaged weighted by coverage).
Losses: cross-entropy on coverage and class (DIGITS: squared error on per-class coverage; see DetectNetHead),
L1 on the corners where a cell is covered (as DIGITS).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nnlab.errors import ConfigError
from nnlab.models.detection.assemble import build_parts, finish
from nnlab.models.detection.detector import Detector, Head, Maps, Targets
from nnlab.models.detection.postprocess import cluster  # noqa: F401  (DetectNet's clustering lives there)
from nnlab.models.registry import DETECTORS
from nnlab.models.layers import ConvNormAct


def cell_centres(h: int, w: int, stride: int, device: torch.device) -> torch.Tensor:
    """(H, W, 2) pixel (x, y) centres of the grid cells."""
    ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
    return (torch.stack([xs, ys], -1).float() + 0.5) * stride


def coverage_targets(targets: Targets, classes: int, grid: tuple[int, int], stride: int, cover: float,
                     norm: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Coverage (B, K, H, W): 1 where a cell centre lies in the central ``cover`` fraction of a box (and at the
    cell holding its centre); bbox (B, 4, H, W): (x1, y1, x2, y2) minus the cell centre, / ``norm``. Smaller
    boxes are drawn last, so they win a shared cell."""
    h, w = grid
    device = targets[0]["boxes"].device if targets else torch.device("cpu")
    centres = cell_centres(h, w, stride, device)  # (H, W, 2)
    cov = torch.zeros(len(targets), classes, h, w, device=device)
    box = torch.zeros(len(targets), 4, h, w, device=device)
    for b, t in enumerate(targets):
        areas = (t["boxes"][:, 2:] - t["boxes"][:, :2]).prod(1)
        for i in areas.argsort(descending=True).tolist():
            x1, y1, x2, y2 = t["boxes"][i].float()
            cx, cy, rw, rh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * cover / 2, (y2 - y1) * cover / 2
            inside = ((centres[..., 0] - cx).abs() <= rw) & ((centres[..., 1] - cy).abs() <= rh)  # (H, W)
            inside[min(int(cy // stride), h - 1), min(int(cx // stride), w - 1)] = True
            cov[b, int(t["labels"][i]), inside] = 1.0
            corners = torch.stack([x1, y1, x2, y2]).to(centres)
            box[b][:, inside] = ((corners.view(2, 2) - centres[inside][:, None]).reshape(-1, 4) / norm).T
    return cov, box


class DetectNetHead(Head):
    """Coverage (1, any object) + class (K) + bbox (4) maps from the finest map; clustering at inference.
    DIGITS drew one coverage map per class; with many classes (digits) the sparse per-class maps learn slowly,
    so coverage is factored into "covered" (binary cross-entropy) x "which class" (softmax cross-entropy on
    covered cells), the score of a cell being their product."""

    decode = "cluster"  # covered cells vote boxes that ``postprocess`` clusters

    def __init__(self, channels: int, stride: int, num_classes: int, cover: float = 0.5,
                 coverage_thresh: float = 0.4, cluster_iou: float = 0.4, min_cells: int = 1,
                 bbox_weight: float = 2.0) -> None:
        super().__init__()
        self.stride, self.num_classes, self.cover = stride, num_classes, cover
        self.coverage_thresh, self.cluster_iou, self.min_cells = coverage_thresh, cluster_iou, min_cells
        self.bbox_weight, self.norm = bbox_weight, 4.0 * stride
        self.trunk = ConvNormAct(channels, channels, 3)
        self.coverage = nn.Conv2d(channels, 1, 1)
        self.classes = nn.Conv2d(channels, num_classes, 1)
        self.bbox = nn.Conv2d(channels, 4, 1)
        nn.init.constant_(self.coverage.bias, -4.0)  # start near "nothing covered"

    def maps(self, maps: Maps) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.trunk(next(iter(maps.values())))  # (B, C, H, W)
        return self.coverage(x), self.classes(x), self.bbox(x)  # (B, 1, H, W), (B, K, H, W), (B, 4, H, W)

    def loss(self, maps: Maps, image_size: tuple[int, int], targets: Targets,
             proposals: list[torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        cov, cls, box = self.maps(maps)
        want_cov, want_box = coverage_targets(targets, self.num_classes, cov.shape[-2:], self.stride, self.cover,
                                              self.norm)
        covered = want_cov.amax(1, keepdim=True)  # (B, 1, H, W)
        b = cov.shape[0]
        on = covered[:, 0] > 0  # (B, H, W)
        labels = want_cov.argmax(1)[on]  # (n,)
        return {"coverage": F.binary_cross_entropy_with_logits(cov, covered, reduction="sum") / b,
                "classification": F.cross_entropy(cls.permute(0, 2, 3, 1)[on], labels, reduction="sum") / b,
                "bbox": self.bbox_weight * ((box - want_box).abs() * covered).sum() / b}

    def dense(self, maps: Maps, image_size: tuple[int, int]) -> dict[str, torch.Tensor]:
        cov, cls, box = self.maps(maps)
        coverage = cov.sigmoid().flatten(1)  # (B, H*W)
        scores = coverage[..., None] * cls.softmax(1).flatten(2).transpose(1, 2)  # (B, H*W, K): covered x class
        centres = cell_centres(cov.shape[2], cov.shape[3], self.stride, cov.device)  # (H, W, 2)
        corners = box.permute(0, 2, 3, 1) * self.norm + centres.repeat(1, 1, 2)  # (B, H, W, 4) xyxy
        return {"boxes": corners.flatten(1, 2), "scores": scores, "coverage": coverage}

    def decoding(self) -> dict[str, Any]:
        return {"decode": "cluster", "coverage_thresh": self.coverage_thresh, "cluster_iou": self.cluster_iou,
                "min_cells": self.min_cells}


@DETECTORS.register("detectnet")
def detectnet(*, classes: int, in_chans: int = 3, input_size: tuple[int, int] = (128, 128),
              backbone: str = "tiny", neck: str = "none", levels: int = 1, width: int = 16, neck_width: int = 64,
              merge: str = "add", cover: float = 0.5, coverage_thresh: float = 0.4, cluster_iou: float = 0.4,
              min_cells: int = 1, score_thresh: float = 0.05, nms_thresh: float = 0.5, max_detections: int = 100,
              backbone_options: dict[str, Any] | None = None) -> Detector:
    """DetectNet on the finest map (the tiny backbone stops at stride 8 unless ``backbone_options`` says)."""
    if not 0 < cover <= 1 or not 0 < coverage_thresh < 1 or min_cells < 1:
        raise ConfigError("detectnet needs 0 < cover <= 1, 0 < coverage_thresh < 1 and min_cells >= 1")
    if backbone == "tiny" and backbone_options is None:
        backbone_options = {"depth": 2 + levels}
    bb, nk = build_parts(backbone, neck, in_chans=in_chans, input_size=input_size, levels=levels, width=width,
                         neck_width=neck_width, merge=merge, backbone_options=backbone_options)
    if levels > 1 and neck == "none":
        raise ConfigError("detectnet reads one map: with levels > 1 use neck fpn or pan to merge them")
    head = DetectNetHead(nk.out_channels[0], bb.strides[0], classes, cover, coverage_thresh, cluster_iou, min_cells)
    return finish(bb, nk, head, classes=classes, in_chans=in_chans, input_size=input_size,
                  score_thresh=score_thresh, nms_thresh=nms_thresh, max_detections=max_detections)
