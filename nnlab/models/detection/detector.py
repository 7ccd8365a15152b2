"""``Detector(backbone, neck, head)``: the one shape every nnlab detector has (notes: backbone -> neck -> dense
prediction). Train mode with targets returns a dict of named losses; eval mode returns, per image,
``{"boxes": (m, 4) xyxy, "scores": (m,), "labels": (m,) int64 0-based}`` after a score threshold, per-class
NMS (torchvision.ops.batched_nms) and a cap on detections. One-stage heads return dense tensors that
``postprocess`` (shared with deployed networks) selects from; two-stage heads return candidates to ``select``.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from nnlab.errors import ConfigError, UserError
from nnlab.models.detection.backbones import Backbone
from nnlab.models.detection.necks import Neck
from nnlab.models.detection.postprocess import PostProcess, postprocess, select, top_candidates  # noqa: F401

DATA_ARGS = ("classes", "in_chans", "input_size", "train_boxes")  # builder keywords the task fills from the data
Maps = OrderedDict[str, torch.Tensor]
Targets = list[dict[str, torch.Tensor]]


class Head(nn.Module):
    """A detection head: ``loss`` (train) and, in eval mode, either ``dense`` (one-stage heads: fixed-shape
    tensors that ``postprocess`` turns into detections; ``decode`` names how) or ``predict`` (candidates before
    NMS, for heads whose second stage depends on the first's selections). ``proposals`` are the externally
    given boxes per image (two-stage heads without an RPN); other heads ignore them."""

    decode: str | None = None  # "topk" | "cluster" for a one-stage head with ``dense``; None: ``predict``

    def loss(self, maps: Maps, image_size: tuple[int, int], targets: Targets,
             proposals: list[torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def dense(self, maps: Maps, image_size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """Decoded boxes (B, N, 4) and class scores (B, N, K) (+ coverage (B, N)) for every location."""
        raise NotImplementedError(f"{type(self).__name__} has no dense output")

    def predict(self, maps: Maps, image_size: tuple[int, int],
                proposals: list[torch.Tensor] | None = None) -> Targets:
        raise NotImplementedError

    def decoding(self) -> dict[str, Any]:
        """The head's own post-processing options (``PostProcess`` fields besides the thresholds)."""
        return {"decode": self.decode or "topk"}


class Detector(nn.Module):
    """Backbone -> neck -> head, then per-class NMS. ``num_classes`` is K (labels 0..K-1)."""

    def __init__(self, backbone: Backbone, neck: Neck, head: Head, *, num_classes: int, in_chans: int,
                 input_size: tuple[int, int], score_thresh: float = 0.05, nms_thresh: float = 0.5,
                 max_detections: int = 100) -> None:
        super().__init__()
        PostProcess(score_thresh=score_thresh, nms_thresh=nms_thresh, max_detections=max_detections)  # checks
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
        if self.head.decode is not None:  # one-stage: the same post-processing a deployed network runs
            return postprocess(self.head.dense(maps, size), size, self.postprocessing())
        candidates = self.head.predict(maps, size, proposals)  # per image, before NMS
        return [self.select(c, size) for c in candidates]

    def dense(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """The network part of inference (what ONNX export traces): images -> the head's dense tensors."""
        if self.head.decode is None:
            raise UserError(f"{type(self.head).__name__} selects proposals inside the network: it has no dense "
                            "output to post-process separately")
        self.check_images(images)
        return self.head.dense(self.neck(self.backbone(images)), (images.shape[-2], images.shape[-1]))

    def postprocessing(self, score_thresh: float | None = None) -> PostProcess:
        """This detector's post-processing as plain data (``score_thresh`` overrides its own)."""
        return PostProcess(score_thresh=self.score_thresh if score_thresh is None else score_thresh,
                           nms_thresh=self.nms_thresh, max_detections=self.max_detections, **self.head.decoding())

    def select(self, c: dict[str, torch.Tensor], size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """Score threshold -> clip -> per-class NMS -> the ``max_detections`` best."""
        return select(c, size, self.postprocessing())

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
