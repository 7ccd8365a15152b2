"""Merge a semantic map (stuff) and scored instance masks (things) into one non-overlapping panoptic map.

The heuristic of Kirillov et al. (Panoptic Segmentation, CVPR 2019, section 7; the same rules in Panoptic FPN
and detectron2's ``combine_semantic_and_instance_outputs``):
1. instances with score < ``score_threshold`` are dropped; the rest are pasted in decreasing score order;
2. an instance keeps only its pixels not yet taken; when more than ``overlap_threshold`` of its mask is already
   taken (by higher-scoring instances) it is dropped altogether;
3. the remaining pixels go to the semantic prediction of a stuff class, one segment per class, when that
   segment has at least ``stuff_area`` pixels; everything else is void.
The result is the (H, W, 2) (category, instance id) form that ``nnlab.metrics.segmentation.PanopticQuality``
takes: instance ids 1, 2, ... for things, 0 for stuff, category ``void`` for unassigned pixels.
"""
from __future__ import annotations

from typing import Collection

import torch

VOID = 255


def merge_panoptic(semantic: torch.Tensor, masks: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor,
                   stuff_classes: Collection[int], score_threshold: float = 0.5, overlap_threshold: float = 0.5,
                   stuff_area: int = 64, mask_threshold: float = 0.5,
                   void: int = VOID) -> tuple[torch.Tensor, list[dict]]:
    """``semantic``: class ids (H, W) or logits (K, H, W); ``masks``: (n, H, W) bool or probabilities (above
    ``mask_threshold`` is in); ``scores`` (n,); ``labels`` (n,) thing categories in the semantic id space.
    Returns the panoptic map (H, W, 2) int64 and one dict per segment (category, instance, isthing, area, score)."""
    if semantic.dim() == 3:
        semantic = semantic.argmax(0)  # (H, W)
    h, w = semantic.shape
    panoptic = torch.zeros(h, w, 2, dtype=torch.long, device=semantic.device)
    panoptic[..., 0] = void
    taken = torch.zeros(h, w, dtype=torch.bool, device=semantic.device)
    segments: list[dict] = []
    binary = masks > mask_threshold if masks.is_floating_point() else masks.bool()  # (n, H, W)
    for i in torch.argsort(scores, descending=True).tolist():
        if scores[i] < score_threshold:
            break
        area = int(binary[i].sum())
        if area == 0 or int((binary[i] & taken).sum()) > overlap_threshold * area:
            continue
        keep = binary[i] & ~taken  # (H, W)
        panoptic[keep] = torch.tensor([int(labels[i]), len(segments) + 1], device=semantic.device)
        taken |= keep
        segments.append({"category": int(labels[i]), "instance": len(segments) + 1, "isthing": True,
                         "area": int(keep.sum()), "score": float(scores[i])})
    for c in sorted(stuff_classes):
        region = (semantic == c) & ~taken
        if int(region.sum()) < stuff_area:
            continue
        panoptic[region] = torch.tensor([c, 0], device=semantic.device)
        taken |= region
        segments.append({"category": c, "instance": 0, "isthing": False, "area": int(region.sum()), "score": 1.0})
    return panoptic, segments


def instances_to_panoptic(semantic: torch.Tensor, masks: torch.Tensor, labels: torch.Tensor,
                          stuff_classes: Collection[int], void: int = VOID) -> torch.Tensor:
    """Ground truth in the panoptic form: stuff from the semantic target (H, W), things from instance masks
    (n, H, W) numbered 1..n; 255 in the semantic target and pixels of no stuff class or instance are void."""
    panoptic = torch.zeros(*semantic.shape, 2, dtype=torch.long, device=semantic.device)
    panoptic[..., 0] = void
    for c in stuff_classes:
        panoptic[semantic == c] = torch.tensor([c, 0], device=semantic.device)
    for i, (m, c) in enumerate(zip(masks.bool(), labels.tolist())):
        panoptic[m] = torch.tensor([c, i + 1], device=semantic.device)
    return panoptic
