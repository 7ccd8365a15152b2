"""YOLO (Redmon et al. 2015; v2 2016; v3 2018): the image as an S x S grid, every cell predicting boxes,
objectness and class scores in one forward pass ([H, W, A * (4 + 1 + K)], notes: dense prediction).

``neck: none`` by default (measured better than fpn on 1,000 digit scenes: mAP@0.5 0.88 vs 0.78 at 15 epochs).
``anchors: kmeans`` (default) gives each cell ``anchors_per_cell`` base boxes per level (tall, wide, square in
the notes) from k-means on the training boxes (``train_boxes``), smallest on the finest level (v3);
``anchors: none`` is YOLOv1 (B = ``boxes_per_cell`` boxes per cell predicted directly, one grid: levels 1);
a list of [w, h] pairs sets them by hand. The anchors are a buffer: a checkpoint carries them.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from nnlab.errors import ConfigError
from nnlab.models.detection.anchors import check_anchors_fit, kmeans_anchors, sizes_to_wh
from nnlab.models.detection.assemble import build_parts, finish
from nnlab.models.detection.detector import Detector, Head, Maps, Targets
from nnlab.models.registry import DETECTORS
from nnlab.models.detection.yolo_loss import anchor_loss, decode_level, decode_v1, v1_loss
from nnlab.models.layers import ConvNormAct


class YOLOHead(Head):
    """Per level a 3x3 conv-BN-act and a 1x1 prediction conv. ``anchors`` (L, A, 2) or None (YOLOv1)."""

    decode = "topk"

    def __init__(self, in_channels: list[int], strides: list[int], num_classes: int,
                 anchors: torch.Tensor | None, boxes_per_cell: int = 2, ignore_thresh: float = 0.5) -> None:
        super().__init__()
        self.num_classes, self.strides, self.ignore_thresh = num_classes, list(strides), ignore_thresh
        self.v1 = anchors is None
        self.boxes_per_cell = boxes_per_cell
        if self.v1:
            if len(in_channels) != 1:
                raise ConfigError("anchors: none is YOLOv1 with one S x S grid: set levels: 1")
            outs = [boxes_per_cell * 5 + num_classes]
        else:
            outs = [anchors.shape[1] * (5 + num_classes)] * len(in_channels)
        self.register_buffer("anchors", anchors if anchors is not None else torch.zeros(0))
        self.convs = nn.ModuleList(nn.Sequential(ConvNormAct(c, c, 3), nn.Conv2d(c, o, 1))
                                   for c, o in zip(in_channels, outs))
        if not self.v1:  # objectness starts near 0.01 (v3 practice): no flood of false positives
            for conv in self.convs:
                conv[1].bias.detach().view(-1, 5 + num_classes)[:, 4] = -4.6

    def raw(self, maps: Maps) -> list[torch.Tensor]:
        """Per level (B, A, H, W, 5 + K) (with anchors) or (B, H, W, nb * 5 + K) (YOLOv1)."""
        out = []
        for conv, x in zip(self.convs, maps.values()):
            p = conv(x)  # (B, A * (5 + K), H, W)
            b, _, h, w = p.shape
            if self.v1:
                out.append(p.permute(0, 2, 3, 1))
            else:
                out.append(p.view(b, self.anchors.shape[1], -1, h, w).permute(0, 1, 3, 4, 2))
        return out

    def loss(self, maps: Maps, image_size: tuple[int, int], targets: Targets,
             proposals: list[torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        preds = self.raw(maps)
        if self.v1:
            return v1_loss(preds[0], targets, self.boxes_per_cell, self.strides[0], image_size)
        return anchor_loss(preds, targets, self.anchors, self.strides, image_size, self.ignore_thresh)

    def dense(self, maps: Maps, image_size: tuple[int, int]) -> dict[str, torch.Tensor]:
        preds = self.raw(maps)
        if self.v1:
            boxes, conf, probs = decode_v1(preds[0], self.boxes_per_cell, self.strides[0], image_size)
            scores = conf[..., None] * probs[:, :, :, None, :]  # (B, H, W, nb, K): class-specific confidence
            return {"boxes": boxes.flatten(1, 3), "scores": scores.flatten(1, 3)}
        levels = [(decode_level(p, a, s).flatten(1, 3),  # (B, A*H*W, 4)
                   (p[..., 4:5].sigmoid() * p[..., 5:].sigmoid()).flatten(1, 3))  # (B, A*H*W, K)
                  for p, a, s in zip(preds, self.anchors, self.strides)]
        return {"boxes": torch.cat([b for b, _ in levels], 1),  # (B, N, 4)
                "scores": torch.cat([s for _, s in levels], 1)}  # (B, N, K): objectness x class


def default_priors(strides: Sequence[int], per_cell: int, input_size: tuple[int, int]) -> torch.Tensor:
    """(L, A, 2) square / tall / wide boxes of side 2.5 x stride per level, cut to the input (used only when no
    training boxes are given for k-means)."""
    ratios = [1.0, 2.0, 0.5, 3.0, 1 / 3][:per_cell] if per_cell <= 5 else torch.logspace(-1, 1, per_cell).tolist()
    wh = torch.stack([sizes_to_wh([2.5 * s], ratios) for s in strides])  # (L, A, 2)
    return torch.minimum(wh, torch.tensor([float(input_size[1]), float(input_size[0])]))


def yolo_anchors(anchors: str | Sequence[Sequence[float]], train_boxes: torch.Tensor | None, strides: list[int],
                 per_cell: int, input_size: tuple[int, int]) -> torch.Tensor | None:
    """The (L, A, 2) anchors: k-means on ``train_boxes``, given [w, h] pairs, or None for YOLOv1."""
    levels = len(strides)
    if isinstance(anchors, str):
        if anchors == "none":
            return None
        if anchors != "kmeans":
            raise ConfigError(f"config key 'model.anchors' got {anchors!r}, expected kmeans, none or [[w, h], ...]")
        if train_boxes is None:
            return default_priors(strides, per_cell, input_size)
        wh = kmeans_anchors(train_boxes, levels * per_cell)
    else:
        wh = torch.tensor(anchors, dtype=torch.float32)
        if wh.ndim != 2 or wh.shape[1] != 2 or len(wh) != levels * per_cell:
            raise ConfigError(f"model.anchors needs {levels * per_cell} [w, h] pairs ({levels} levels x "
                              f"{per_cell} per cell), got {list(wh.shape)}")
        wh = wh[wh.prod(1).argsort()]
    check_anchors_fit(wh, input_size)
    return wh.view(levels, per_cell, 2)


@DETECTORS.register("yolo")
def yolo(*, classes: int, in_chans: int = 3, input_size: tuple[int, int] = (128, 128), backbone: str = "tiny",
         neck: str = "none", levels: int | None = None, width: int = 16, neck_width: int = 64, merge: str = "add",
         anchors: str | list[list[float]] = "kmeans", anchors_per_cell: int = 3, boxes_per_cell: int = 2,
         train_boxes: torch.Tensor | None = None, ignore_thresh: float = 0.5, score_thresh: float = 0.05,
         nms_thresh: float = 0.5, max_detections: int = 100,
         backbone_options: dict[str, Any] | None = None) -> Detector:
    """YOLO on ``levels`` maps (default 3 with anchors, 1 for YOLOv1); ``train_boxes`` (n, 4) feed k-means."""
    v1 = anchors == "none"
    levels = levels if levels is not None else (1 if v1 else 3)
    bb, nk = build_parts(backbone, "none" if v1 and levels == 1 else neck, in_chans=in_chans, input_size=input_size,
                         levels=levels, width=width, neck_width=neck_width, merge=merge,
                         backbone_options=backbone_options)
    wh = yolo_anchors(anchors, train_boxes, bb.strides, anchors_per_cell, tuple(input_size))
    head = YOLOHead(nk.out_channels, bb.strides, classes, wh, boxes_per_cell, ignore_thresh)
    return finish(bb, nk, head, classes=classes, in_chans=in_chans, input_size=input_size,
                  score_thresh=score_thresh, nms_thresh=nms_thresh, max_detections=max_detections)
