"""YOLO target assignment and losses.

With anchors (YOLOv2 / v3): each ground-truth box goes to the anchor (over all levels) whose shape fits it best
(IoU of the sizes) and to the cell holding its centre on that anchor's level; losses are the squared error of
the box coding (weighted 2 - w*h, v3), binary cross-entropy for objectness (predictions that already overlap a
box by > ``ignore_thresh`` are not pushed to 0, v3) and per-class binary cross-entropy (v3).
Without anchors (YOLOv1, Redmon et al. 2015): B boxes per cell, the one with the highest IoU is responsible;
sum-squared error with lambda_coord = 5 on (x, y, sqrt w, sqrt h), confidence -> IoU, lambda_noobj = 0.5,
and a squared error on the cell's class probabilities.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torchvision.ops import box_iou

from nnlab.models.detection.anchors import wh_iou, yolo_decode, yolo_encode

Targets = list[dict[str, torch.Tensor]]


@dataclass
class Assignment:
    """One row per ground-truth box: where it is predicted and what the prediction should be."""

    image: torch.Tensor  # (n,) long
    level: torch.Tensor  # (n,) long
    anchor: torch.Tensor  # (n,) long, index within the level
    gy: torch.Tensor  # (n,) long
    gx: torch.Tensor  # (n,) long
    t: torch.Tensor  # (n, 4) (x offset, y offset, log w/pw, log h/ph)
    label: torch.Tensor  # (n,) long
    box: torch.Tensor  # (n, 4) xyxy


def assign(targets: Targets, anchors: torch.Tensor, strides: list[int], grids: list[tuple[int, int]]) -> Assignment:
    """Best-shape anchor over all (L, A) anchors, then the cell of the box centre on that anchor's level."""
    n_anchors = anchors.shape[1]
    flat = anchors.reshape(-1, 2)  # (L * A, 2)
    stride_of = torch.tensor(strides, dtype=flat.dtype, device=flat.device)
    grid_of = torch.tensor(grids, device=flat.device)  # (L, 2) = (H, W)
    rows = []
    for b, t in enumerate(targets):
        boxes = t["boxes"].to(flat)
        if not len(boxes):
            continue
        best = wh_iou(boxes[:, 2:] - boxes[:, :2], flat).argmax(1)  # (n,)
        level = best // n_anchors
        stride = stride_of[level][:, None]  # (n, 1)
        cells, tt = yolo_encode(boxes, flat[best], stride)
        gx = torch.minimum(cells[:, 0].clamp(min=0), grid_of[level, 1] - 1)
        gy = torch.minimum(cells[:, 1].clamp(min=0), grid_of[level, 0] - 1)
        tt[:, 0], tt[:, 1] = ((boxes[:, 0] + boxes[:, 2]) / 2 / stride[:, 0] - gx), \
            ((boxes[:, 1] + boxes[:, 3]) / 2 / stride[:, 0] - gy)
        rows.append((torch.full_like(best, b), level, best % n_anchors, gy, gx, tt, t["labels"], boxes))
    if not rows:
        z = torch.zeros(0, dtype=torch.long, device=flat.device)
        return Assignment(z, z, z, z, z, flat.new_zeros(0, 4), z, flat.new_zeros(0, 4))
    return Assignment(*(torch.cat(col) for col in zip(*rows)))


def decode_level(p: torch.Tensor, anchors: torch.Tensor, stride: int) -> torch.Tensor:
    """(B, A, H, W, 5 + K) raw predictions, (A, 2) anchors -> (B, A, H, W, 4) xyxy boxes."""
    _, _, h, w, _ = p.shape
    ys, xs = torch.meshgrid(torch.arange(h, device=p.device), torch.arange(w, device=p.device), indexing="ij")
    cells = torch.stack([xs, ys], -1).to(p.dtype)  # (H, W, 2)
    t = torch.cat([p[..., :2].sigmoid(), p[..., 2:4].clamp(max=8.0)], -1)
    return yolo_decode(t, cells, anchors[None, :, None, None], stride)


def anchor_loss(preds: list[torch.Tensor], targets: Targets, anchors: torch.Tensor, strides: list[int],
                image_size: tuple[int, int], ignore_thresh: float = 0.5) -> dict[str, torch.Tensor]:
    """YOLOv2/v3 losses, summed over predictions and averaged over images."""
    grids = [(p.shape[2], p.shape[3]) for p in preds]
    a = assign(targets, anchors, strides, grids)
    batch, k = preds[0].shape[0], preds[0].shape[-1] - 5
    box = obj = cls = preds[0].new_zeros(())
    for level, p in enumerate(preds):
        sel = a.level == level
        idx = (a.image[sel], a.anchor[sel], a.gy[sel], a.gx[sel])
        positive = torch.zeros(p.shape[:4], dtype=torch.bool, device=p.device)
        positive[idx] = True
        with torch.no_grad():
            boxes = decode_level(p, anchors[level], strides[level])  # (B, A, H, W, 4)
            ignore = torch.zeros_like(positive)
            for b, t in enumerate(targets):
                if len(t["boxes"]):
                    iou = box_iou(boxes[b].reshape(-1, 4), t["boxes"].to(boxes)).max(1).values
                    ignore[b] = (iou > ignore_thresh).reshape(ignore[b].shape)
        weight = (~ignore | positive).to(p.dtype)
        obj = obj + F.binary_cross_entropy_with_logits(p[..., 4], positive.to(p.dtype), weight, reduction="sum")
        ps = p[idx]  # (n, 5 + K)
        wh = a.box[sel, 2:] - a.box[sel, :2]
        scale = 2 - wh.prod(1) / (image_size[0] * image_size[1])  # small boxes weigh more (v3)
        coded = torch.cat([ps[:, :2].sigmoid(), ps[:, 2:4]], 1)
        box = box + (scale[:, None] * (coded - a.t[sel]) ** 2).sum()
        onehot = F.one_hot(a.label[sel], k).to(p.dtype)
        cls = cls + F.binary_cross_entropy_with_logits(ps[:, 5:], onehot, reduction="sum")
    return {"box": box / batch, "objectness": obj / batch, "classification": cls / batch}


def decode_v1(p: torch.Tensor, boxes_per_cell: int, stride: int,
              image_size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, H, W, nb * 5 + K) -> boxes (B, H, W, nb, 4) xyxy, confidence (B, H, W, nb), class probs (B, H, W, K).
    Per box: sigmoid offsets in the cell, sigmoid sqrt(w / image width), sqrt(h / image height), confidence."""
    bsz, h, w, _ = p.shape
    raw = p[..., : boxes_per_cell * 5].reshape(bsz, h, w, boxes_per_cell, 5).sigmoid()
    ys, xs = torch.meshgrid(torch.arange(h, device=p.device), torch.arange(w, device=p.device), indexing="ij")
    cells = torch.stack([xs, ys], -1).to(p.dtype)[:, :, None]  # (H, W, 1, 2)
    centre = (cells + raw[..., :2]) * stride
    size = raw[..., 2:4] ** 2 * raw.new_tensor([image_size[1], image_size[0]])
    boxes = torch.cat([centre - size / 2, centre + size / 2], -1)
    return boxes, raw[..., 4], p[..., boxes_per_cell * 5:].softmax(-1)


def v1_loss(p: torch.Tensor, targets: Targets, boxes_per_cell: int, stride: int, image_size: tuple[int, int],
            l_coord: float = 5.0, l_noobj: float = 0.5) -> dict[str, torch.Tensor]:
    """YOLOv1's sum-squared error, averaged over images."""
    bsz, h, w, _ = p.shape
    boxes, conf, probs = decode_v1(p, boxes_per_cell, stride, image_size)
    raw = p[..., : boxes_per_cell * 5].reshape(bsz, h, w, boxes_per_cell, 5).sigmoid()
    responsible = torch.zeros_like(conf, dtype=torch.bool)
    conf_target = torch.zeros_like(conf)
    coord = cls = p.new_zeros(())
    img_wh = p.new_tensor([image_size[1], image_size[0]])
    for b, t in enumerate(targets):
        gt = t["boxes"].to(p)
        if not len(gt):
            continue
        centre = (gt[:, :2] + gt[:, 2:]) / 2 / stride
        gx = centre[:, 0].long().clamp(0, w - 1)
        gy = centre[:, 1].long().clamp(0, h - 1)
        iou = box_iou(boxes[b, gy, gx].reshape(-1, 4), gt).reshape(len(gt), boxes_per_cell, len(gt))
        iou = iou[torch.arange(len(gt)), :, torch.arange(len(gt))]  # (n, nb): each box vs its own cell's boxes
        j = iou.argmax(1)
        responsible[b, gy, gx, j] = True
        conf_target[b, gy, gx, j] = iou[torch.arange(len(gt)), j].detach()
        want = torch.cat([centre - torch.stack([gx, gy], 1), ((gt[:, 2:] - gt[:, :2]) / img_wh).sqrt()], 1)
        coord = coord + ((raw[b, gy, gx, j, :4] - want) ** 2).sum()
        cls = cls + ((probs[b, gy, gx] - F.one_hot(t["labels"], probs.shape[-1]).to(p)) ** 2).sum()
    obj = ((conf - conf_target)[responsible] ** 2).sum()
    noobj = (conf[~responsible] ** 2).sum()
    return {"box": l_coord * coord / bsz, "objectness": obj / bsz, "noobj": l_noobj * noobj / bsz,
            "classification": cls / bsz}
