"""``Detector(backbone, neck, head)``: the one shape every nnlab detector has (notes: backbone -> neck -> dense
prediction). Train mode with targets returns a dict of named losses; eval mode returns, per image,
``{"boxes": (m, 4) xyxy, "scores": (m,), "labels": (m,) int64 0-based}`` after a score threshold, per-class
NMS (torchvision.ops.batched_nms) and a cap on detections. Heads return candidates; selection lives here once.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torchvision.ops import batched_nms, clip_boxes_to_image

from nnlab.errors import ConfigError, UserError
from nnlab.models.detection.backbones import Backbone
from nnlab.models.detection.necks import Neck

DATA_ARGS = ("classes", "in_chans", "input_size", "train_boxes")  # builder keywords the task fills from the data
Maps = OrderedDict[str, torch.Tensor]
Targets = list[dict[str, torch.Tensor]]


class Head(nn.Module):
    """A detection head: ``loss`` (train) and ``predict`` (candidates before NMS, eval). ``proposals`` are the
    externally given boxes per image (two-stage heads without an RPN); other heads ignore them."""

    def loss(self, maps: Maps, image_size: tuple[int, int], targets: Targets,
             proposals: list[torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def predict(self, maps: Maps, image_size: tuple[int, int],
                proposals: list[torch.Tensor] | None = None) -> Targets:
        raise NotImplementedError


class Detector(nn.Module):
    """Backbone -> neck -> head, then per-class NMS. ``num_classes`` is K (labels 0..K-1)."""

    def __init__(self, backbone: Backbone, neck: Neck, head: Head, *, num_classes: int, in_chans: int,
                 input_size: tuple[int, int], score_thresh: float = 0.05, nms_thresh: float = 0.5,
                 max_detections: int = 100) -> None:
        super().__init__()
        if not 0 <= score_thresh < 1 or not 0 < nms_thresh <= 1 or max_detections < 1:
            raise ConfigError("detector needs 0 <= score_thresh < 1, 0 < nms_thresh <= 1 and max_detections >= 1")
        self.backbone, self.neck, self.head = backbone, neck, head
        self.num_classes, self.in_chans, self.input_size = num_classes, in_chans, tuple(input_size)
        self.score_thresh, self.nms_thresh, self.max_detections = score_thresh, nms_thresh, max_detections

    def forward(self, images: torch.Tensor, targets: Targets | None = None,
                proposals: list[torch.Tensor] | None = None) -> dict[str, torch.Tensor] | Targets:
        self.check_images(images)
        maps = self.neck(self.backbone(images))  # {level: (B, C_l, H / s_l, W / s_l)}
        size = (images.shape[-2], images.shape[-1])
        if self.training:
            if targets is None:
                raise UserError("a detector in train mode needs targets (a list of {'boxes', 'labels'} per image)")
            self.check_targets(targets, len(images))
            return self.head.loss(maps, size, targets, proposals)
        candidates = self.head.predict(maps, size, proposals)  # per image, before NMS
        return [self.select(c, size) for c in candidates]

    def select(self, c: dict[str, torch.Tensor], size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """Score threshold -> clip -> per-class NMS -> the ``max_detections`` best."""
        keep = c["scores"] > self.score_thresh
        boxes, scores, labels = clip_boxes_to_image(c["boxes"][keep], size), c["scores"][keep], c["labels"][keep]
        keep = batched_nms(boxes.float(), scores.float(), labels, self.nms_thresh)[: self.max_detections]
        return {"boxes": boxes[keep].float(), "scores": scores[keep].float(), "labels": labels[keep].long()}

    def check_images(self, images: torch.Tensor) -> None:
        if images.ndim != 4 or images.shape[1] != self.in_chans:
            raise UserError(f"detector expects images of shape (B, {self.in_chans}, H, W), got {tuple(images.shape)}")
        stride = max(self.backbone.strides)
        if min(images.shape[-2:]) < stride:
            raise UserError(f"images of {images.shape[-2]}x{images.shape[-1]} are smaller than the network's "
                            f"stride {stride}: resize them to at least {stride}x{stride} (input_size)")

    def check_targets(self, targets: Targets, batch: int) -> None:
        check_targets(targets, batch, self.num_classes)


def check_targets(targets: Targets, batch: int, num_classes: int) -> None:
    """One target dict per image, (n, 4) boxes, labels within 0..K-1 (the detector's class count)."""
    if len(targets) != batch:
        raise UserError(f"{batch} images but {len(targets)} target dicts")
    for t in targets:
        labels = t["labels"]
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
            raise UserError(f"target label {int(labels.max())} is outside 0..{num_classes - 1}: the "
                            f"detector was built for {num_classes} classes; set classes to the "
                            f"dataset's class count")
        if t["boxes"].shape != (len(labels), 4):
            raise UserError(f"target boxes must be ({len(labels)}, 4) xyxy, got {tuple(t['boxes'].shape)}")

def check_classes(detector: Detector, dataset_classes: int) -> None:
    """Refuse a detector built for another class count than the dataset's (before training starts)."""
    if detector.num_classes != dataset_classes:
        raise ConfigError(f"the detector predicts {detector.num_classes} classes but the dataset has "
                          f"{dataset_classes}: set classes: {dataset_classes}")


def top_candidates(boxes: torch.Tensor, scores: torch.Tensor, topk: int = 1000,
                   min_score: float = 0.0) -> dict[str, torch.Tensor]:
    """Candidates from per-box class scores: (N, 4) boxes, (N, K) scores -> the ``topk`` best (box, class)
    pairs above ``min_score`` as ``{"boxes", "scores", "labels"}`` (labels 0..K-1)."""
    flat = scores.flatten()  # (N * K,)
    keep = torch.nonzero(flat > min_score).squeeze(1)
    flat = flat[keep]
    top = flat.topk(min(topk, len(flat))).indices
    idx = keep[top]
    k = scores.shape[1]
    return {"boxes": boxes[idx // k], "scores": flat[top], "labels": idx % k}
