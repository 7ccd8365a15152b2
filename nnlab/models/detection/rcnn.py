"""Two-stage detectors from torchvision parts on nnlab backbones and necks (notes: R-CNN -> Fast R-CNN ->
Faster R-CNN; the first forward proposes regions, the second classifies and refines them).

``faster_rcnn``: ``RegionProposalNetwork`` (``AnchorGenerator`` + ``RPNHead``) proposes boxes, ``RoIHeads`` with
``MultiScaleRoIAlign`` + ``TwoMLPHead`` + ``FastRCNNPredictor`` classifies them.
``fast_rcnn``: the same ``RoIHeads`` on externally given proposals (selective search, Detection I) pooled from
one shared map with ``pool: spp|roi_pool|roi_align``; without proposals, dense sliding windows stand in.
The images reach the heads already resized and normalized by the data pipeline, so torchvision's
``GeneralizedRCNNTransform`` (resize + normalize + pad) is not used: an ``ImageList`` of the batch is built
directly. Labels: nnlab's 0..K-1 become 1..K inside (0 = background) and come back 0-based.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead
from torchvision.ops import MultiScaleRoIAlign

from nnlab.errors import UserError
from nnlab.models.detection.anchors import check_anchors_fit, sizes_to_wh
from nnlab.models.detection.assemble import build_parts, finish, uniform_channels
from nnlab.models.detection.backbones import Backbone
from nnlab.models.detection.detector import Detector, Head, Maps, Targets
from nnlab.models.detection.one_stage import image_list
from nnlab.models.registry import DETECTORS
from nnlab.models.detection.spp import build_pool


def roi_heads(pool: nn.Module, in_features: int, num_classes: int, fc_width: int, score_thresh: float = 1e-3,
              nms_thresh: float = 1.0, detections: int = 1000, **mask_parts: nn.Module) -> RoIHeads:
    """Box head (two FC layers) + predictor (K + 1 scores, per-class boxes); by default no NMS here: the Detector
    selects, so every detector is post-processed alike. The detector's own ``score_thresh`` cuts early (the
    Detector cuts at the same value again): without it every RoI x class pair went on to selection, 0.8x
    torchvision's inference speed (benchmarks/detect_peer.py). ``mask_parts`` (``mask_roi_pool``, ``mask_head``,
    ``mask_predictor``) add Mask R-CNN's branch, which runs on the boxes selected here."""
    return RoIHeads(pool, TwoMLPHead(in_features, fc_width), FastRCNNPredictor(fc_width, num_classes + 1),
                    fg_iou_thresh=0.5, bg_iou_thresh=0.5, batch_size_per_image=128, positive_fraction=0.25,
                    bbox_reg_weights=None, score_thresh=score_thresh, nms_thresh=nms_thresh,
                    detections_per_img=detections, **mask_parts)


def window_proposals(image_size: tuple[int, int], fractions: tuple[float, ...], device: torch.device) -> torch.Tensor:
    """Square sliding windows of ``fractions`` of the short side, half-overlapping -> (n, 4) xyxy."""
    h, w = image_size
    out = []
    for f in fractions:
        s = max(f * min(h, w), 1.0)
        xs = torch.arange(0, max(w - s, 0) + 1e-3, s / 2, device=device)
        ys = torch.arange(0, max(h - s, 0) + 1e-3, s / 2, device=device)
        y, x = torch.meshgrid(ys, xs, indexing="ij")
        out.append(torch.stack([x, y, x + s, y + s], -1).reshape(-1, 4))
    return torch.cat(out)


class TwoStageHead(Head):
    """``rpn`` (None: proposals come from outside) then ``roi_heads`` on the same maps."""

    def __init__(self, rpn: RegionProposalNetwork | None, heads: RoIHeads,
                 windows: tuple[float, ...] = (0.125, 0.25, 0.5)) -> None:
        super().__init__()
        self.rpn, self.roi_heads, self.windows = rpn, heads, windows

    def proposals(self, maps: Maps, size: tuple[int, int], targets: Targets | None,
                  given: list[torch.Tensor] | None) -> tuple[list[torch.Tensor], dict[str, torch.Tensor]]:
        batch = next(iter(maps.values())).shape[0]
        if self.rpn is not None:
            return self.rpn(image_list(maps, size), maps, targets)
        if given is None:
            return [window_proposals(size, self.windows, next(iter(maps.values())).device)] * batch, {}
        if len(given) != batch:
            raise UserError(f"{batch} images but {len(given)} proposal lists")
        return [p.float() for p in given], {}

    def loss(self, maps: Maps, image_size: tuple[int, int], targets: Targets,
             proposals: list[torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        shifted = [{**t, "boxes": t["boxes"].float(), "labels": t["labels"] + 1} for t in targets]  # 0 = background
        boxes, rpn_losses = self.proposals(maps, image_size, shifted, proposals)
        _, roi_losses = self.roi_heads(maps, boxes, [image_size] * len(targets), shifted)
        return {**rpn_losses, **roi_losses}

    def predict(self, maps: Maps, image_size: tuple[int, int],
                proposals: list[torch.Tensor] | None = None) -> Targets:
        boxes, _ = self.proposals(maps, image_size, None, proposals)
        found, _ = self.roi_heads(maps, boxes, [image_size] * len(boxes))
        return [self.output(d, image_size) for d in found]

    def output(self, found: dict[str, torch.Tensor], image_size: tuple[int, int]) -> dict[str, torch.Tensor]:
        """One image's RoIHeads result in nnlab's form (labels 0-based again)."""
        return {"boxes": found["boxes"], "scores": found["scores"], "labels": found["labels"] - 1}


def region_proposals(channels: int, strides: list[int], anchor_scale: float, input_size: tuple[int, int],
                     rpn_batch: int, rpn_post_nms: int, detector: str) -> RegionProposalNetwork:
    """The RPN: per level anchors of ``anchor_scale`` x stride with ratios 1:2, 1:1, 2:1, IoU 0.7 / 0.3."""
    sizes = tuple((anchor_scale * s,) for s in strides)
    check_anchors_fit(sizes_to_wh([s[0] for s in sizes], [1.0]), input_size, f"{detector} anchor")
    anchors = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(sizes))
    return RegionProposalNetwork(anchors, RPNHead(channels, 3), fg_iou_thresh=0.7, bg_iou_thresh=0.3,
                                 batch_size_per_image=rpn_batch, positive_fraction=0.5,
                                 pre_nms_top_n={"training": 2 * rpn_post_nms, "testing": rpn_post_nms},
                                 post_nms_top_n={"training": rpn_post_nms, "testing": rpn_post_nms // 3},
                                 nms_thresh=0.7)


def box_pool(backbone: Backbone) -> MultiScaleRoIAlign:
    """RoIAlign 7x7 over every level of the backbone (sampling ratio 2)."""
    return MultiScaleRoIAlign(backbone.names, output_size=7, sampling_ratio=2)


@DETECTORS.register("faster_rcnn")
def faster_rcnn(*, classes: int, in_chans: int = 3, input_size: tuple[int, int] = (128, 128),
                backbone: str = "tiny", neck: str = "fpn", levels: int = 3, width: int = 16, neck_width: int = 64,
                merge: str = "add", anchor_scale: float = 4.0, fc_width: int = 256, rpn_batch: int = 256,
                rpn_post_nms: int = 300, score_thresh: float = 0.05, nms_thresh: float = 0.5,
                max_detections: int = 100, backbone_options: dict[str, Any] | None = None) -> Detector:
    """Faster R-CNN: per level anchors of ``anchor_scale`` x stride, ratios 1:2, 1:1, 2:1; RoIAlign 7x7."""
    bb, nk = build_parts(backbone, neck, in_chans=in_chans, input_size=input_size, levels=levels, width=width,
                         neck_width=neck_width, merge=merge, backbone_options=backbone_options)
    channels = uniform_channels(nk.out_channels, "faster_rcnn")
    rpn = region_proposals(channels, bb.strides, anchor_scale, input_size, rpn_batch, rpn_post_nms, "faster_rcnn")
    head = TwoStageHead(rpn, roi_heads(box_pool(bb), channels * 49, classes, fc_width, score_thresh))
    return finish(bb, nk, head, classes=classes, in_chans=in_chans, input_size=input_size,
                  score_thresh=score_thresh, nms_thresh=nms_thresh, max_detections=max_detections)


@DETECTORS.register("fast_rcnn")
def fast_rcnn(*, classes: int, in_chans: int = 3, input_size: tuple[int, int] = (128, 128),
              backbone: str = "tiny", width: int = 16, pool: str = "roi_pool",
              pool_size: int = 7, fc_width: int = 256, windows: tuple[float, ...] = (0.125, 0.25, 0.5),
              score_thresh: float = 0.05, nms_thresh: float = 0.5, max_detections: int = 100,
              backbone_options: dict[str, Any] | None = None) -> Detector:
    """Fast R-CNN on one shared map (the tiny backbone stops at stride 16, as VGG16's conv5 in the paper);
    ``forward(images, targets, proposals)`` takes proposals per image; ``windows`` sizes the fallback."""
    if backbone == "tiny" and backbone_options is None:
        backbone_options = {"depth": 4}
    bb, nk = build_parts(backbone, "none", in_chans=in_chans, input_size=input_size, levels=1, width=width,
                         neck_width=width, merge="add", backbone_options=backbone_options)
    pooler = build_pool(pool, bb.names[-1], bb.strides[-1], pool_size)
    head = TwoStageHead(None, roi_heads(pooler, nk.out_channels[-1] * pooler.bins, classes, fc_width, score_thresh),
                        tuple(windows))
    return finish(bb, nk, head, classes=classes, in_chans=in_chans, input_size=input_size,
                  score_thresh=score_thresh, nms_thresh=nms_thresh, max_detections=max_detections)
