"""Semantic and panoptic segmentation metrics.

``SegmentationMetrics`` accumulates a K x K confusion matrix (and boundary-band counts) per batch on the batch's
device, with no host sync, and reports at the end: pixel accuracy, per-class and mean IoU (Jaccard), Dice (F1 per
pixel) and boundary IoU (Cheng et al., CVPR 2021: IoU of the thin bands inside each mask along its contour, which
rewards sharp edges that whole-mask IoU barely notices). Classes absent from both prediction and target are NaN
per class and left out of the means. Pixels whose target is ``ignore_index`` (255) count nowhere.

``PanopticQuality``: PQ = SQ x RQ (Kirillov et al., CVPR 2019) per category and averaged over the categories
that occur, with torchmetrics' conventions for void (categories outside things / stuffs). It matches segments on
the CPU, image by image (a handful of segments each): an evaluation metric, not one for the training loop.
"""
from __future__ import annotations

from typing import Collection

import torch
import torch.nn.functional as F

IGNORE_INDEX = 255
SHIFT = 1 << 32  # panoptic segment code = category * SHIFT + instance


class SegmentationMetrics:
    """Confusion-matrix accumulator: ``update(pred, target)`` per batch, ``compute()`` once at the end."""

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX, boundary_ratio: float = 0.02,
                 device: torch.device | str | None = None) -> None:
        self.num_classes, self.ignore_index, self.boundary_ratio = num_classes, ignore_index, boundary_ratio
        self.device = device
        self.reset()

    def reset(self) -> None:
        k = self.num_classes
        self.confusion = torch.zeros(k, k, dtype=torch.long, device=self.device)  # rows target, columns pred
        self.band_inter = torch.zeros(k, dtype=torch.long, device=self.device)
        self.band_union = torch.zeros(k, dtype=torch.long, device=self.device)

    @torch.no_grad()
    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """``pred``: logits (B, K, H, W) or class ids (B, H, W); ``target``: class ids (B, H, W), 255 = ignore."""
        if pred.dim() == 4:
            pred = pred.argmax(1)  # (B, H, W)
        pred, target = pred.long(), target.to(pred.device).long()
        if self.confusion.device != pred.device:
            self.confusion, self.band_inter, self.band_union = (
                t.to(pred.device) for t in (self.confusion, self.band_inter, self.band_union))
        k = self.num_classes
        valid = target != self.ignore_index  # (B, H, W)
        codes = target[valid] * k + pred[valid].clamp(0, k - 1)
        self.confusion += torch.bincount(codes, minlength=k * k).view(k, k)
        inter, union = boundary_counts(pred, target, k, self.boundary_ratio, valid)
        self.band_inter += inter
        self.band_union += union

    def compute(self) -> dict[str, torch.Tensor | float]:
        """pixel_accuracy, miou, iou (K,), dice (mean), dice_per_class (K,), boundary_iou (mean), boundary_iou_per_class."""
        cm = self.confusion.double()
        tp = cm.diag()
        fp, fn = cm.sum(0) - tp, cm.sum(1) - tp
        iou = _ratio(tp, tp + fp + fn)
        dice = _ratio(2 * tp, 2 * tp + fp + fn)
        biou = _ratio(self.band_inter.double(), self.band_union.double())
        return {"pixel_accuracy": (tp.sum() / cm.sum().clamp_min(1)).item(), "miou": _nanmean(iou), "iou": iou,
                "dice": _nanmean(dice), "dice_per_class": dice, "boundary_iou": _nanmean(biou),
                "boundary_iou_per_class": biou}


def _ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    return torch.where(den > 0, num / den.clamp_min(1e-12), torch.full_like(num, float("nan")))


def _nanmean(x: torch.Tensor) -> float:
    present = ~torch.isnan(x)
    return x[present].mean().item() if present.any() else float("nan")


def boundary_band(mask: torch.Tensor, width: int) -> torch.Tensor:
    """The pixels of boolean masks (B, H, W) within ``width`` pixels (chessboard distance) of the mask's
    contour, inside the mask: mask minus its erosion. Outside the image counts as background (the image
    border is a contour), as in the reference implementation."""
    x = F.pad(mask[:, None].float(), (width,) * 4, value=0.0)  # (B, 1, H + 2w, W + 2w)
    eroded = -F.max_pool2d(-x, 2 * width + 1, stride=1)  # (B, 1, H, W): min over the (2w+1)^2 window
    return mask & (eroded[:, 0] < 0.5)


def boundary_counts(pred: torch.Tensor, target: torch.Tensor, num_classes: int, ratio: float,
                    valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per class |P_band ∩ G_band| and |P_band ∪ G_band| over valid pixels; band width = ratio x image diagonal."""
    h, w = target.shape[-2:]
    width = max(1, round(ratio * (h * h + w * w) ** 0.5))
    inter = torch.zeros(num_classes, dtype=torch.long, device=pred.device)
    union = torch.zeros_like(inter)
    for c in range(num_classes):
        pb = boundary_band(pred == c, width) & valid
        gb = boundary_band(target == c, width) & valid
        inter[c] = (pb & gb).sum()
        union[c] = (pb | gb).sum()
    return inter, union


class PanopticQuality:
    """PQ, SQ, RQ per category and averaged. Inputs are (B, H, W, 2) maps of (category id, instance id); stuff
    instance ids are ignored; categories in neither ``things`` nor ``stuffs`` are void. A predicted and a
    target segment of one category match when their IoU > 0.5 (void pixels left out of the union); unmatched
    segments that are mostly (> 50 %) void on the other side count neither as FP nor as FN."""

    def __init__(self, things: Collection[int], stuffs: Collection[int]) -> None:
        self.categories = sorted(things) + sorted(stuffs)
        self.stuffs = set(stuffs)
        self.void = 1 + max([0, *self.categories])
        n = len(self.categories)
        self.iou_sum = torch.zeros(n, dtype=torch.double)
        self.tp, self.fp, self.fn = (torch.zeros(n, dtype=torch.long) for _ in range(3))

    def _prepare(self, seg: torch.Tensor) -> torch.Tensor:
        """(H, W, 2) -> (H*W,) segment codes cat * M + inst; stuff instances -> 0, unknown categories -> void."""
        cat, inst = seg[..., 0].flatten().long().cpu(), seg[..., 1].flatten().long().cpu()
        known = torch.isin(cat, torch.tensor(self.categories))
        inst = torch.where(torch.isin(cat, torch.tensor(sorted(self.stuffs) or [-1])) | ~known, 0, inst)
        cat = torch.where(known, cat, self.void)
        return cat * SHIFT + inst

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        for p, t in zip(pred, target):  # segments are matched within one image only
            self._update_one(self._prepare(p), self._prepare(t))

    def _update_one(self, p: torch.Tensor, t: torch.Tensor) -> None:
        void = self.void * SHIFT
        p_area, t_area = _areas(p), _areas(t)
        pairs = _areas(torch.stack([p, t], 1))  # (pred segment, target segment) -> intersection
        index = {c: i for i, c in enumerate(self.categories)}
        matched_p, matched_t = set(), set()
        for (a, b), inter in pairs.items():
            if b == void or a // SHIFT != b // SHIFT:
                continue
            union = p_area[a] - pairs.get((a, void), 0) + t_area[b] - pairs.get((void, b), 0) - inter
            if inter / union > 0.5:  # at most one match per segment (IoU > 0.5 is unique)
                matched_p.add(a), matched_t.add(b)
                self.iou_sum[index[b // SHIFT]] += inter / union
                self.tp[index[b // SHIFT]] += 1
        for b in set(t_area) - matched_t - {void}:
            if pairs.get((void, b), 0) / t_area[b] <= 0.5:
                self.fn[index[b // SHIFT]] += 1
        for a in set(p_area) - matched_p - {void}:
            if pairs.get((a, void), 0) / p_area[a] <= 0.5:
                self.fp[index[a // SHIFT]] += 1

    def compute(self) -> dict[str, torch.Tensor | float]:
        """pq, sq, rq (means over categories with any segment) and pq/sq/rq_per_class in ``categories`` order."""
        tp = self.tp.double()
        sq = torch.where(tp > 0, self.iou_sum / tp.clamp_min(1), 0.0)
        den = tp + 0.5 * self.fp + 0.5 * self.fn
        rq = torch.where(den > 0, tp / den.clamp_min(1e-12), 0.0)
        pq, seen = sq * rq, den > 0
        return {"pq": _nanmean(pq[seen]), "sq": _nanmean(sq[seen]), "rq": _nanmean(rq[seen]), "pq_per_class": pq,
                "sq_per_class": sq, "rq_per_class": rq}


def _areas(codes: torch.Tensor) -> dict:
    """Pixel count of each distinct code (N,) or code pair (N, 2)."""
    keys, counts = torch.unique(codes, dim=0, return_counts=True)
    return {(tuple(k) if isinstance(k, list) else k): n for k, n in zip(keys.tolist(), counts.tolist())}
