"""RetinaNet and SSD assembled from torchvision parts on nnlab backbones and necks (not rewritten).

RetinaNet (Lin et al. 2017): ``AnchorGenerator`` (3 scales x 3 ratios per level, 4x the stride), torchvision's
``RetinaNetHead`` whose classification loss is ``torchvision.ops.sigmoid_focal_loss``, ``Matcher(0.5, 0.4)``.
SSD (Liu et al. 2016): ``DefaultBoxGenerator`` (multi-scale default boxes, scales 0.2..0.9 of the image),
``SSDHead``, ``SSDMatcher(0.5)`` and torchvision's SSD loss with hard negative mining (3 negatives per
positive, the highest-loss ones). Labels are 0-based in nnlab; SSD's softmax has a background column 0, so
they are shifted by +1 inside and back on output.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from functools import partial
from typing import Any

import torch
from torch import nn
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.retinanet import RetinaNetHead
from torchvision.models.detection.ssd import SSD, SSDHead
from torchvision.ops import box_iou

from nnlab.errors import ConfigError
from nnlab.models.detection.anchors import check_anchors_fit, pyramid_sizes, sizes_to_wh
from nnlab.models.detection.assemble import build_parts, finish, uniform_channels
from nnlab.models.detection.detector import Detector, Head, Maps, Targets
from nnlab.models.registry import DETECTORS


def image_list(maps: Maps, image_size: tuple[int, int]) -> ImageList:
    """The ImageList torchvision's anchor generators read: only the padded size and per-image sizes matter."""
    x = next(iter(maps.values()))
    return ImageList(x.new_empty(x.shape[0], 0, *image_size), [tuple(image_size)] * x.shape[0])


def one_image_anchors(generator: nn.Module, maps: Maps, image_size: tuple[int, int]) -> torch.Tensor:
    """(N, 4) anchors of one image (every image of a batch has the same size, so the same anchors): computed
    once, not per image, so an exported graph does not fix the batch size."""
    first = OrderedDict((name, m[:1]) for name, m in maps.items())
    return generator(image_list(first, image_size), list(first.values()))[0]


def decode_all(coder: det_utils.BoxCoder, codes: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """(B, N, 4) box codes relative to (N, 4) anchors -> (B, N, 4) xyxy boxes, for the whole batch at once."""
    return coder.decode_single(codes.reshape(-1, 4), anchors.expand_as(codes).reshape(-1, 4)).reshape_as(codes)


def match(matcher: det_utils.Matcher, targets: Targets, anchors: list[torch.Tensor]) -> list[torch.Tensor]:
    """Per image, the index of the ground-truth box each anchor is matched to (negative: background/ignored)."""
    out = []
    for t, a in zip(targets, anchors):
        if not len(t["boxes"]):
            out.append(torch.full((len(a),), -1, dtype=torch.long, device=a.device))
        else:
            out.append(matcher(box_iou(t["boxes"].to(a), a)))
    return out


class RetinaHead(Head):
    """torchvision's RetinaNetHead over every level, with its focal / L1 losses."""

    decode = "topk"

    def __init__(self, channels: int, sizes: tuple[tuple[float, ...], ...], num_classes: int,
                 ratios: tuple[float, ...] = (0.5, 1.0, 2.0)) -> None:
        super().__init__()
        self.anchor_generator = AnchorGenerator(sizes, (ratios,) * len(sizes))
        norm = partial(nn.GroupNorm, math.gcd(32, channels))  # RetinaNet v2's head: GroupNorm after each conv
        self.head = RetinaNetHead(channels, self.anchor_generator.num_anchors_per_location()[0], num_classes, norm)
        self.matcher = det_utils.Matcher(0.5, 0.4, allow_low_quality_matches=True)

    def _run(self, maps: Maps, image_size: tuple[int, int]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        out = self.head(list(maps.values()))  # cls_logits (B, N, K), bbox_regression (B, N, 4)
        return out, one_image_anchors(self.anchor_generator, maps, image_size)  # (N, 4)

    def loss(self, maps: Maps, image_size: tuple[int, int], targets: Targets,
             proposals: list[torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        out, anchors = self._run(maps, image_size)
        anchors = [anchors] * len(targets)
        return self.head.compute_loss(targets, out, anchors, match(self.matcher, targets, anchors))

    def dense(self, maps: Maps, image_size: tuple[int, int]) -> dict[str, torch.Tensor]:
        out, anchors = self._run(maps, image_size)
        coder = self.head.regression_head.box_coder
        return {"boxes": decode_all(coder, out["bbox_regression"].float(), anchors),  # fp32 under bf16 autocast
                "scores": out["cls_logits"].float().sigmoid()}


class SSDBoxHead(Head):
    """torchvision's SSDHead on every level (channels may differ), default boxes, hard negative mining."""

    decode = "topk"

    def __init__(self, channels: list[int], strides: list[int], num_classes: int, min_ratio: float = 0.2,
                 max_ratio: float = 0.9, neg_to_pos_ratio: int = 3) -> None:
        super().__init__()
        self.anchor_generator = DefaultBoxGenerator([[2]] * len(channels), min_ratio, max_ratio, steps=strides)
        self.head = SSDHead(channels, self.anchor_generator.num_anchors_per_location(), num_classes + 1)
        self.matcher = det_utils.SSDMatcher(0.5)
        self.box_coder = det_utils.BoxCoder(weights=(10.0, 10.0, 5.0, 5.0))
        self.neg_to_pos_ratio = neg_to_pos_ratio  # read by torchvision's SSD.compute_loss

    def _run(self, maps: Maps, image_size: tuple[int, int]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        out = self.head(list(maps.values()))  # cls_logits (B, N, K + 1), bbox_regression (B, N, 4)
        return out, one_image_anchors(self.anchor_generator, maps, image_size)  # (N, 4)

    def loss(self, maps: Maps, image_size: tuple[int, int], targets: Targets,
             proposals: list[torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        out, anchors = self._run(maps, image_size)
        anchors = [anchors] * len(targets)
        shifted = [{"boxes": t["boxes"], "labels": t["labels"] + 1} for t in targets]  # 0 = background
        return SSD.compute_loss(self, shifted, out, anchors, match(self.matcher, targets, anchors))

    def dense(self, maps: Maps, image_size: tuple[int, int]) -> dict[str, torch.Tensor]:
        out, anchors = self._run(maps, image_size)
        # softmax over the classes as (B, K + 1, N): on CPU ~7x faster than over a last dim of K + 1 = 11
        probs = out["cls_logits"].float().transpose(1, 2).softmax(1)[:, 1:].transpose(1, 2)  # (B, N, K), no background
        return {"boxes": decode_all(self.box_coder, out["bbox_regression"].float(), anchors), "scores": probs}


def retina_sizes(strides: list[int], anchor_scale: float, input_size: tuple[int, int]) -> tuple[tuple[float, ...], ...]:
    """RetinaNet's anchor sizes per level, refused when even the smallest does not fit the input."""
    sizes = pyramid_sizes(strides, anchor_scale)
    check_anchors_fit(sizes_to_wh([min(s) for s in sizes], [1.0]), input_size, "retinanet anchor")
    return sizes


@DETECTORS.register("retinanet")
def retinanet(*, classes: int, in_chans: int = 3, input_size: tuple[int, int] = (128, 128), backbone: str = "tiny",
              neck: str = "fpn", levels: int = 3, width: int = 16, neck_width: int = 64, merge: str = "add",
              anchor_scale: float = 4.0, score_thresh: float = 0.05, nms_thresh: float = 0.5,
              max_detections: int = 100, backbone_options: dict[str, Any] | None = None) -> Detector:
    """RetinaNet: anchors of ``anchor_scale`` x stride x {2^0, 2^1/3, 2^2/3} and ratios 1:2, 1:1, 2:1 per level."""
    bb, nk = build_parts(backbone, neck, in_chans=in_chans, input_size=input_size, levels=levels, width=width,
                         neck_width=neck_width, merge=merge, backbone_options=backbone_options)
    sizes = retina_sizes(bb.strides, anchor_scale, input_size)
    head = RetinaHead(uniform_channels(nk.out_channels, "retinanet"), sizes, classes)
    return finish(bb, nk, head, classes=classes, in_chans=in_chans, input_size=input_size,
                  score_thresh=score_thresh, nms_thresh=nms_thresh, max_detections=max_detections)


@DETECTORS.register("ssd")
def ssd(*, classes: int, in_chans: int = 3, input_size: tuple[int, int] = (128, 128), backbone: str = "tiny",
        neck: str = "none", levels: int = 3, width: int = 16, neck_width: int = 64, merge: str = "add",
        min_ratio: float = 0.2, max_ratio: float = 0.9, neg_to_pos_ratio: int = 3, score_thresh: float = 0.05,
        nms_thresh: float = 0.5, max_detections: int = 100,
        backbone_options: dict[str, Any] | None = None) -> Detector:
    """SSD: default boxes from ``min_ratio`` to ``max_ratio`` of the image over the levels, ratios 1, 2, 1/2."""
    if not 0 < min_ratio < max_ratio <= 1:
        raise ConfigError(f"ssd needs 0 < min_ratio < max_ratio <= 1 (fractions of the image), got {min_ratio}, "
                          f"{max_ratio}")
    bb, nk = build_parts(backbone, neck, in_chans=in_chans, input_size=input_size, levels=levels, width=width,
                         neck_width=neck_width, merge=merge, backbone_options=backbone_options)
    head = SSDBoxHead(nk.out_channels, bb.strides, classes, min_ratio, max_ratio, neg_to_pos_ratio)
    return finish(bb, nk, head, classes=classes, in_chans=in_chans, input_size=input_size,
                  score_thresh=score_thresh, nms_thresh=nms_thresh, max_detections=max_detections)

