"""Greedy non-maximum suppression, written once for teaching (the notes' sliding-window detector): keep the
highest-scoring box, drop every remaining box that overlaps it by more than the IoU threshold, repeat.
Detectors use ``torchvision.ops.nms`` / ``batched_nms``; tests check these give the same indices."""
from __future__ import annotations

import torch
from torchvision.ops import box_iou


def greedy_nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Indices of the kept boxes (xyxy (n, 4)), by decreasing score."""
    order = torch.argsort(scores, descending=True, stable=True)
    ious = box_iou(boxes, boxes)  # (n, n)
    suppressed = torch.zeros(len(boxes), dtype=torch.bool)
    keep = []
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= ious[i] > iou_threshold  # the box itself is suppressed too (IoU 1); it is already kept
    return torch.tensor(keep, dtype=torch.int64)


def greedy_batched_nms(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor,
                       iou_threshold: float) -> torch.Tensor:
    """NMS within each class only: boxes of different classes never suppress each other."""
    keep = [torch.nonzero(labels == c).flatten()[greedy_nms(boxes[labels == c], scores[labels == c], iou_threshold)]
            for c in torch.unique(labels)]
    if not keep:
        return torch.zeros(0, dtype=torch.int64)
    kept = torch.cat(keep)
    return kept[torch.argsort(scores[kept], descending=True, stable=True)]
