"""torchvision's own detectors behind nnlab's detector interface, so ``model.name: tv_ssd`` trains and evaluates
through ``task: detect`` beside nnlab's assembled ones (issue 14: side by side on the same backbone and data).

Two kinds, all built with ``weights=None`` / ``weights_backbone=None`` (nothing is downloaded):
- ``tv_faster_rcnn``, ``tv_retinanet``, ``tv_ssd``: torchvision's complete model classes (``FasterRCNN``,
  ``RetinaNet``, ``SSD``: their transform, matching, losses and post-processing) on the same nnlab backbone and
  neck, anchors and head widths as nnlab's ``faster_rcnn`` / ``retinanet`` / ``ssd``: the one difference left is
  who wires the parts together.
- ``tv_fasterrcnn_mobilenet``, ``tv_ssdlite``: torchvision's builders with their own MobileNetV3 backbones.
Conventions: nnlab's images arrive resized and normalized, so torchvision's ``GeneralizedRCNNTransform`` gets the
input size and an identity mean/std; grey images are repeated to the three channels MobileNet takes; nnlab's
0-based labels become 1..K inside (torchvision's class 0 is the background) and come back 0-based; RetinaNet's
per-class sigmoids need no background, so its labels pass unchanged.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn
from torchvision.models.detection import (
    FasterRCNN, RetinaNet, fasterrcnn_mobilenet_v3_large_fpn, ssdlite320_mobilenet_v3_large,
)
from torchvision.models.detection.ssd import SSD
from torchvision.models.detection.transform import GeneralizedRCNNTransform

from nnlab.errors import UserError
from nnlab.models.detection.assemble import build_parts, uniform_channels
from nnlab.models.detection.backbones import Backbone
from nnlab.models.detection.detector import Targets, check_targets
from nnlab.models.detection.necks import Neck
from nnlab.models.detection.one_stage import RetinaHead, SSDBoxHead, retina_sizes
from nnlab.models.detection.rcnn import box_pool, region_proposals, roi_heads
from nnlab.models.registry import DETECTORS


class Body(nn.Module):
    """nnlab's backbone + neck as the feature extractor torchvision's detectors take (``out_channels``)."""

    def __init__(self, backbone: Backbone, neck: Neck, out_channels: int | list[int]) -> None:
        super().__init__()
        self.backbone, self.neck, self.out_channels = backbone, neck, out_channels

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        return self.neck(self.backbone(x))  # {level: (B, C, H / s, W / s)}


class TorchvisionDetector(nn.Module):
    """A torchvision detection model with nnlab's interface: ``(B, C, H, W)`` normalized images; train mode ->
    dict of losses, eval mode -> per image ``{"boxes", "scores", "labels"}`` with 0-based labels."""

    def __init__(self, model: nn.Module, *, num_classes: int, in_chans: int, input_size: tuple[int, int],
                 score_thresh: float, max_detections: int, background: bool = True) -> None:
        super().__init__()
        self.model, self.num_classes, self.in_chans = model, num_classes, in_chans
        self.shift = 1 if background else 0  # RetinaNet's sigmoid classes need no background column
        self.input_size, self.score_thresh, self.max_detections = tuple(input_size), score_thresh, max_detections

    def forward(self, images: torch.Tensor, targets: Targets | None = None) -> dict[str, torch.Tensor] | Targets:
        if images.ndim != 4 or images.shape[1] != self.in_chans:
            raise UserError(f"detector expects images of shape (B, {self.in_chans}, H, W), got {tuple(images.shape)}")
        x = list(images)  # torchvision takes a list of (C, H, W)
        if self.training:
            if targets is None:
                raise UserError("a detector in train mode needs targets (a list of {'boxes', 'labels'} per image)")
            check_targets(targets, len(images), self.num_classes)
            shifted = [{"boxes": t["boxes"].float(), "labels": t["labels"] + self.shift} for t in targets]
            return self.model(x, shifted)
        found = self.model(x)
        return [{"boxes": d["boxes"].float(), "scores": d["scores"].float(), "labels": d["labels"].long() - self.shift}
                for d in found]


def identity_transform(input_size: tuple[int, int], in_chans: int, fixed: bool = False) -> GeneralizedRCNNTransform:
    """torchvision's resize + normalize + batch step made a no-op resize at ``input_size`` (nnlab normalizes)."""
    h, w = input_size
    return GeneralizedRCNNTransform(min(h, w), max(h, w), [0.0] * in_chans, [1.0] * in_chans,
                                    size_divisible=1 if fixed else 32, fixed_size=(w, h) if fixed else None)


class Grey2RGB(nn.Module):
    """Repeats a one-channel image to the three channels an ImageNet-shaped backbone takes."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body
        if hasattr(body, "out_channels"):  # FasterRCNN reads it; SSD measures its backbone's maps instead
            self.out_channels = body.out_channels

    def forward(self, x: torch.Tensor) -> Any:
        return self.body(x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x)


def _wrap(model: nn.Module, classes: int, in_chans: int, input_size: tuple[int, int], score_thresh: float,
          max_detections: int, background: bool = True) -> TorchvisionDetector:
    return TorchvisionDetector(model, num_classes=classes, in_chans=in_chans, input_size=input_size,
                               score_thresh=score_thresh, max_detections=max_detections, background=background)


@DETECTORS.register("tv_faster_rcnn")
def tv_faster_rcnn(*, classes: int, in_chans: int = 3, input_size: tuple[int, int] = (128, 128),
                   backbone: str = "tiny", neck: str = "fpn", levels: int = 3, width: int = 16,
                   neck_width: int = 64, merge: str = "add", anchor_scale: float = 4.0, fc_width: int = 256,
                   rpn_batch: int = 256, rpn_post_nms: int = 300, score_thresh: float = 0.05,
                   nms_thresh: float = 0.5, max_detections: int = 100,
                   backbone_options: dict[str, Any] | None = None) -> TorchvisionDetector:
    """torchvision's ``FasterRCNN`` with nnlab ``faster_rcnn``'s backbone, neck, RPN and RoI heads."""
    bb, nk = build_parts(backbone, neck, in_chans=in_chans, input_size=input_size, levels=levels, width=width,
                         neck_width=neck_width, merge=merge, backbone_options=backbone_options)
    channels = uniform_channels(nk.out_channels, "tv_faster_rcnn")
    model = FasterRCNN(Body(bb, nk, channels), num_classes=None, box_predictor=nn.Identity(),
                       box_roi_pool=box_pool(bb), box_head=nn.Identity())  # both replaced below
    model.transform = identity_transform(tuple(input_size), in_chans)
    model.rpn = region_proposals(channels, bb.strides, anchor_scale, input_size, rpn_batch, rpn_post_nms,
                                 "tv_faster_rcnn")
    model.roi_heads = roi_heads(box_pool(bb), channels * 49, classes, fc_width)
    heads = model.roi_heads  # torchvision selects inside the model
    heads.score_thresh, heads.nms_thresh, heads.detections_per_img = score_thresh, nms_thresh, max_detections
    return _wrap(model, classes, in_chans, input_size, score_thresh, max_detections)


@DETECTORS.register("tv_retinanet")
def tv_retinanet(*, classes: int, in_chans: int = 3, input_size: tuple[int, int] = (128, 128),
                 backbone: str = "tiny", neck: str = "fpn", levels: int = 3, width: int = 16, neck_width: int = 64,
                 merge: str = "add", anchor_scale: float = 4.0, score_thresh: float = 0.05,
                 nms_thresh: float = 0.5, max_detections: int = 100,
                 backbone_options: dict[str, Any] | None = None) -> TorchvisionDetector:
    """torchvision's ``RetinaNet`` with nnlab ``retinanet``'s backbone, neck, anchors and GroupNorm head (sigmoid
    classes: labels 0..K-1 as they are, no background column)."""
    bb, nk = build_parts(backbone, neck, in_chans=in_chans, input_size=input_size, levels=levels, width=width,
                         neck_width=neck_width, merge=merge, backbone_options=backbone_options)
    channels = uniform_channels(nk.out_channels, "tv_retinanet")
    parts = RetinaHead(channels, retina_sizes(bb.strides, anchor_scale, input_size), classes)
    model = RetinaNet(Body(bb, nk, channels), classes, anchor_generator=parts.anchor_generator,
                      head=parts.head, score_thresh=score_thresh, nms_thresh=nms_thresh,
                      detections_per_img=max_detections)
    model.transform = identity_transform(tuple(input_size), in_chans)
    return _wrap(model, classes, in_chans, input_size, score_thresh, max_detections, background=False)


@DETECTORS.register("tv_ssd")
def tv_ssd(*, classes: int, in_chans: int = 3, input_size: tuple[int, int] = (128, 128), backbone: str = "tiny",
           neck: str = "none", levels: int = 3, width: int = 16, neck_width: int = 64, merge: str = "add",
           min_ratio: float = 0.2, max_ratio: float = 0.9, score_thresh: float = 0.05, nms_thresh: float = 0.5,
           max_detections: int = 100, backbone_options: dict[str, Any] | None = None) -> TorchvisionDetector:
    """torchvision's ``SSD`` with nnlab ``ssd``'s backbone, default boxes and head (3 negatives per positive)."""
    bb, nk = build_parts(backbone, neck, in_chans=in_chans, input_size=input_size, levels=levels, width=width,
                         neck_width=neck_width, merge=merge, backbone_options=backbone_options)
    parts = SSDBoxHead(nk.out_channels, bb.strides, classes, min_ratio, max_ratio)  # its head has K + 1 columns
    model = SSD(Body(bb, nk, nk.out_channels), parts.anchor_generator, tuple(input_size), classes + 1,
                [0.0] * in_chans, [1.0] * in_chans, head=parts.head, score_thresh=score_thresh,
                nms_thresh=nms_thresh, detections_per_img=max_detections, positive_fraction=0.25)
    return _wrap(model, classes, in_chans, input_size, score_thresh, max_detections)


@DETECTORS.register("tv_fasterrcnn_mobilenet")
def tv_fasterrcnn_mobilenet(*, classes: int, in_chans: int = 3, input_size: tuple[int, int] = (128, 128),
                            score_thresh: float = 0.05, nms_thresh: float = 0.5,
                            max_detections: int = 100) -> TorchvisionDetector:
    """torchvision's ``fasterrcnn_mobilenet_v3_large_fpn`` (its anchors and settings), run at ``input_size``."""
    model = fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None, num_classes=classes + 1,
                                              box_score_thresh=score_thresh, box_nms_thresh=nms_thresh,
                                              box_detections_per_img=max_detections)
    model.backbone = Grey2RGB(model.backbone)
    model.transform = identity_transform(tuple(input_size), in_chans)
    return _wrap(model, classes, in_chans, input_size, score_thresh, max_detections)


@DETECTORS.register("tv_ssdlite")
def tv_ssdlite(*, classes: int, in_chans: int = 3, input_size: tuple[int, int] = (128, 128),
               score_thresh: float = 0.05, nms_thresh: float = 0.5, max_detections: int = 100) -> TorchvisionDetector:
    """torchvision's ``ssdlite320_mobilenet_v3_large`` (fractional default boxes), run at ``input_size``."""
    model = ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=classes + 1,
                                          score_thresh=score_thresh, nms_thresh=nms_thresh,
                                          detections_per_img=max_detections)
    model.backbone = Grey2RGB(model.backbone)
    model.transform = identity_transform(tuple(input_size), in_chans, fixed=True)
    return _wrap(model, classes, in_chans, input_size, score_thresh, max_detections)
