"""Detection evaluation: COCO-style AP / AR (the COCOeval algorithm, re-implemented vectorized) and the Pascal VOC
AP variants, from torchvision-style predictions and targets.

Matching follows pycocotools' COCOeval exactly (tests/metrics/test_detection.py compares every number with it):
per image and class, detections in score order take the highest-IoU still-unmatched ground truth above the IoU
threshold, preferring boxes that count (not crowd, inside the area range) over ignored ones; crowd regions may
absorb any number of detections (IoU = intersection / detection area) and, like boxes outside the area range,
neither reward nor punish. Precision is interpolated at 101 recall points (``COCO_INTERPOLATION``).
One deliberate difference: the headline numbers use the largest ``max_dets`` (COCOeval hard-codes 100 for its
first AP, which gives -1 when 100 is not among ``maxDets``). VOC AP (11-point, VOC2007; all-point, VOC2010+) is
computed at IoU 0.5 from the same matches; crowd boxes play VOC's "difficult".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
AREA_RANGES = {"all": (0.0, 1e5 ** 2), "small": (0.0, 32.0 ** 2), "medium": (32.0 ** 2, 96.0 ** 2),
               "large": (96.0 ** 2, 1e5 ** 2)}
COCO_INTERPOLATION = "COCO 101-point interpolated precision (recall 0:0.01:1)"
VOC_INTERPOLATION = {"voc11": "VOC2007 11-point interpolated precision (recall 0:0.1:1)",
                     "voc_all": "VOC2010+ all-point (area under the precision envelope)"}
TABLE_HEADER = ["metric", "value", "IoU", "area", "max dets", "interpolation"]


@dataclass
class DetectionEval:
    """Everything the evaluator computes. Arrays hold -1 where a value is undefined (a class without ground
    truth): ``precision`` (T, R, K, A, M), ``recall`` (T, K, A, M) with T IoU thresholds, R recall points,
    K classes, A area ranges (all, small, medium, large), M ``max_dets``."""

    precision: np.ndarray
    recall: np.ndarray
    classes: list[str]
    max_dets: tuple[int, ...]
    iou_type: str
    voc: dict[str, np.ndarray]  # "voc11" / "voc_all": (K,) AP at IoU 0.5, -1 without ground truth
    stats: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        top = self.max_dets[-1]
        self.stats = {"mAP": self.ap(), "mAP50": self.ap(iou=0.5), "mAP75": self.ap(iou=0.75),
                      **{f"mAP_{a}": self.ap(area=a) for a in ("small", "medium", "large")},
                      **{f"AR{m}": self.ar(max_det=m) for m in self.max_dets},
                      **{f"AR{top}_{a}": self.ar(area=a) for a in ("small", "medium", "large")},
                      "VOC11_mAP50": _mean(self.voc["voc11"]), "VOC_all_mAP50": _mean(self.voc["voc_all"])}

    def _select(self, values: np.ndarray, iou: float | None, area: str, max_det: int | None) -> np.ndarray:
        a, m = list(AREA_RANGES).index(area), self.max_dets.index(max_det or self.max_dets[-1])
        values = values[..., a, m]
        return values if iou is None else values[np.isclose(IOU_THRESHOLDS, iou)]

    def ap(self, iou: float | None = None, area: str = "all", max_det: int | None = None,
           cls: int | None = None) -> float:
        """Mean precision over recall points, IoU thresholds (or the one ``iou``) and classes (or ``cls``)."""
        s = self._select(self.precision, iou, area, max_det)  # (T, R, K)
        return _mean(s if cls is None else s[:, :, cls])

    def ar(self, iou: float | None = None, area: str = "all", max_det: int | None = None) -> float:
        return _mean(self._select(self.recall, iou, area, max_det))

    def per_class(self) -> dict[str, dict[str, float]]:
        return {c: {"AP": self.ap(cls=k), "AP50": self.ap(iou=0.5, cls=k), "AP75": self.ap(iou=0.75, cls=k),
                    "VOC11_AP50": float(self.voc["voc11"][k]), "VOC_all_AP50": float(self.voc["voc_all"][k])}
                for k, c in enumerate(self.classes)}

    def table(self) -> list[list[Any]]:
        """Rows under ``TABLE_HEADER`` (metric, value, IoU, area, max dets, interpolation) for printing."""
        top, rows = self.max_dets[-1], []
        for name, value in self.stats.items():
            iou = "0.50" if name == "mAP50" or name.startswith("VOC") else "0.75" if name == "mAP75" else "0.50:0.95"
            area = next((a for a in ("small", "medium", "large") if a in name), "all")
            max_det = int(name[2:].split("_")[0]) if name.startswith("AR") else top
            how = VOC_INTERPOLATION["voc11" if name.startswith("VOC11") else "voc_all"] if name.startswith("VOC") \
                else COCO_INTERPOLATION if name.startswith("mAP") else "recall (no interpolation)"
            rows.append([name, round(value, 4), iou, area, max_det, how])
        return rows + [[f"AP[{c}]", round(v["AP"], 4), "0.50:0.95", "all", top, COCO_INTERPOLATION]
                       for c, v in self.per_class().items()]

    def plot_pr(self, path: str | Path) -> Path:
        """Precision-recall curves (COCO interpolation) at IoU 0.5 and 0.75, one line per class (up to 20) and
        the class mean, as a PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
        for ax, iou in zip(axes, (0.5, 0.75)):
            p = self._select(self.precision, iou, "all", None)[0]  # (R, K)
            for k, name in list(enumerate(self.classes))[:20]:
                if p[0, k] > -1:
                    ax.plot(RECALL_POINTS, p[:, k], lw=1, alpha=0.6, label=f"{name} AP {self.ap(iou, cls=k):.3f}")
            valid = p[0] > -1
            if valid.any():
                ax.plot(RECALL_POINTS, p[:, valid].mean(1), "k", lw=2, label=f"mean AP {self.ap(iou):.3f}")
            ax.set(title=f"IoU {iou} ({self.iou_type})", xlabel="recall", ylabel="precision", xlim=(0, 1),
                   ylim=(0, 1.02))
            ax.legend(fontsize=7, loc="lower left")
        fig.suptitle(f"{COCO_INTERPOLATION}, max {self.max_dets[-1]} detections per image", fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return Path(path)


def _mean(values: np.ndarray) -> float:
    valid = values[values > -1]
    return float(valid.mean()) if valid.size else -1.0


def _np(value: Any, dtype: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=dtype)


def _binary(masks: Any) -> np.ndarray:
    """Masks as bool; probabilities (Mask R-CNN's (n, 1, H, W) floats) are thresholded at 0.5."""
    arr = _np(masks, None)
    return arr >= 0.5 if np.issubdtype(arr.dtype, np.floating) else arr.astype(bool)


def box_iou_coco(dt: np.ndarray, gt: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """(D, G) IoU of xyxy boxes, computed as pycocotools' bbIou does (from x, y, w, h in float64); against a
    crowd region the union is the detection's own area."""
    dw, dh, gw, gh = dt[:, 2] - dt[:, 0], dt[:, 3] - dt[:, 1], gt[:, 2] - gt[:, 0], gt[:, 3] - gt[:, 1]
    w = np.minimum((dw + dt[:, 0])[:, None], (gw + gt[:, 0])[None]) - np.maximum(dt[:, None, 0], gt[None, :, 0])
    h = np.minimum((dh + dt[:, 1])[:, None], (gh + gt[:, 1])[None]) - np.maximum(dt[:, None, 1], gt[None, :, 1])
    inter = np.where((w > 0) & (h > 0), w * h, 0.0)
    da, ga = (dw * dh)[:, None], (gw * gh)[None]
    union = np.where(crowd[None], da, da + ga - inter)
    return np.divide(inter, union, out=np.zeros_like(inter), where=inter > 0)


def mask_iou(dt: np.ndarray, gt: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """(D, G) IoU of binary masks (D, H, W) and (G, H, W); crowd as in ``box_iou_coco``."""
    d = _flat(dt).astype(np.float64)  # (D, H*W)
    g = _flat(gt).astype(np.float64)  # (G, H*W)
    inter = d @ g.T
    da, ga = d.sum(1)[:, None], g.sum(1)[None]
    union = np.where(crowd[None], da, da + ga - inter)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _flat(masks: np.ndarray) -> np.ndarray:
    """(n, H, W) -> (n, H*W), also for n = 0."""
    return masks.reshape(len(masks), int(np.prod(masks.shape[1:])))


def match(ious: np.ndarray, ignore: np.ndarray, crowd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Greedy COCO matching of score-sorted detections for every IoU threshold and area range at once.

    ious (D, G); ignore (A, G) per area range; crowd (G,). Returns matched and matched-to-ignored, each bool
    (A, T, D)."""
    n_area, (n_dt, n_gt) = len(ignore), ious.shape
    thr = np.minimum(IOU_THRESHOLDS, 1 - 1e-10)  # (T,)
    matched = np.zeros((n_area, len(thr), n_dt), bool)
    to_ignored = np.zeros_like(matched)
    if n_gt == 0:
        return matched, to_ignored
    free = np.ones((n_area, len(thr), n_gt), bool)  # (A, T, G) not yet taken (crowd regions stay free)
    counts = ~ignore[:, None, :]  # (A, 1, G)
    for d in np.flatnonzero((ious >= thr[0]).any(1)):
        cand = free & (ious[d] >= thr[:, None])[None]  # (A, T, G)
        good = cand & counts
        pick = np.where(good.any(2, keepdims=True), good, cand)  # prefer ground truth that counts
        key = np.where(pick, ious[d], -1.0)
        m = n_gt - 1 - np.argmax(key[..., ::-1], axis=2)  # (A, T): the highest IoU, the last one on ties
        hit = pick.any(2)
        a_idx, t_idx = np.nonzero(hit)
        g_idx = m[hit]
        matched[a_idx, t_idx, d] = True
        to_ignored[a_idx, t_idx, d] = ignore[a_idx, g_idx]
        free[a_idx, t_idx, g_idx] = crowd[g_idx]
    return matched, to_ignored


@dataclass
class _ClassMatches:
    """Per-class matches of every image, concatenated at the end (the COCOeval ``evalImgs`` of one class)."""

    scores: list[np.ndarray] = field(default_factory=list)  # (D,) each, sorted by score
    matched: list[np.ndarray] = field(default_factory=list)  # (A, T, D)
    ignored: list[np.ndarray] = field(default_factory=list)  # (A, T, D)
    counted_gt: np.ndarray = field(default_factory=lambda: np.zeros(len(AREA_RANGES), np.int64))  # (A,)


def _areas_outside(area: np.ndarray) -> np.ndarray:
    """(A, n): whether each area lies outside each area range."""
    lo, hi = np.array(list(AREA_RANGES.values())).T[:, :, None]
    return (area[None] < lo) | (area[None] > hi)


def _image(pred: dict[str, Any], target: dict[str, Any], n_classes: int, iou_type: str, max_det: int,
           out: list[_ClassMatches]) -> None:
    """Match one image's detections to its ground truth, class by class."""
    segm = iou_type == "segm"
    g_lab, p_lab = _np(target["labels"], np.int64).reshape(-1), _np(pred["labels"], np.int64).reshape(-1)
    g_box, p_box = _np(target["boxes"], np.float64).reshape(-1, 4), _np(pred["boxes"], np.float64).reshape(-1, 4)
    scores = _np(pred["scores"], np.float64).reshape(-1)
    crowd = _np(target.get("iscrowd", np.zeros(len(g_lab))), bool).reshape(-1)
    g_mask = _binary(target["masks"]) if segm else None
    p_mask = _binary(pred["masks"]).reshape(len(p_lab), *g_mask.shape[-2:]) if segm else None
    g_area = _np(target["area"], np.float64) if "area" in target else \
        _flat(g_mask).sum(1).astype(np.float64) if segm else \
        (g_box[:, 2] - g_box[:, 0]) * (g_box[:, 3] - g_box[:, 1])
    if len(g_lab) and (g_lab.min() < 0 or g_lab.max() >= n_classes):
        raise ValueError(f"target labels must lie in 0..{n_classes - 1}, got {sorted(set(g_lab.tolist()))}")
    if segm:  # IoU and areas of every pair once per image; classes take their slices
        iou_all, d_area = mask_iou(p_mask, g_mask, crowd), _flat(p_mask).sum(1).astype(np.float64)
    else:
        iou_all, d_area = box_iou_coco(p_box, g_box, crowd), (p_box[:, 2] - p_box[:, 0]) * (p_box[:, 3] - p_box[:, 1])
    g_ignore, d_outside = crowd[None] | _areas_outside(g_area), _areas_outside(d_area)  # (A, G), (A, D)
    for k in np.unique(np.concatenate([g_lab, p_lab])):
        if not 0 <= k < n_classes:
            continue  # predicted classes outside the list are not evaluated (as in COCOeval)
        gi, di = np.flatnonzero(g_lab == k), np.flatnonzero(p_lab == k)
        di = di[np.argsort(-scores[di], kind="mergesort")[:max_det]]
        ignore = g_ignore[:, gi]
        matched, to_ignored = match(iou_all[np.ix_(di, gi)], ignore, crowd[gi])
        entry = out[k]
        entry.scores.append(scores[di])
        entry.matched.append(matched)
        entry.ignored.append(to_ignored | (~matched & d_outside[:, None, di]))
        entry.counted_gt += (~ignore).sum(1)


def _voc_ap(rc: np.ndarray, pr: np.ndarray) -> tuple[float, float]:
    """(11-point AP, all-point AP) from raw recall / precision in score order."""
    eleven = np.mean([pr[rc >= t].max() if (rc >= t).any() else 0.0 for t in np.linspace(0, 1, 11)])
    mrec, mpre = np.concatenate([[0.0], rc, [1.0]]), np.concatenate([[0.0], pr, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(eleven), float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def _accumulate(entry: _ClassMatches, k: int, max_dets: tuple[int, ...], precision: np.ndarray, recall: np.ndarray,
                voc: dict[str, np.ndarray]) -> None:
    """COCOeval.accumulate for one class: precision at the recall points, recall, and the VOC APs."""
    for mi, m in enumerate(max_dets):
        scores = np.concatenate([s[:m] for s in entry.scores])
        order = np.argsort(-scores, kind="mergesort")
        matched = np.concatenate([x[..., :m] for x in entry.matched], axis=2)[..., order]  # (A, T, N)
        ignored = np.concatenate([x[..., :m] for x in entry.ignored], axis=2)[..., order]
        tp = np.cumsum(matched & ~ignored, axis=2).astype(float)
        fp = np.cumsum(~matched & ~ignored, axis=2).astype(float)
        n = tp.shape[2]
        for a, n_gt in enumerate(entry.counted_gt):
            if n_gt == 0:
                continue
            rc, pr = tp[a] / n_gt, tp[a] / (fp[a] + tp[a] + np.spacing(1))  # (T, N)
            recall[:, k, a, mi] = rc[:, -1] if n else 0.0
            envelope = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
            for t in range(len(IOU_THRESHOLDS)):
                idx = np.searchsorted(rc[t], RECALL_POINTS, side="left")
                precision[t, :, k, a, mi] = np.where(idx < n, envelope[t, np.minimum(idx, max(n - 1, 0))], 0.0) \
                    if n else 0.0
            if a == 0 and mi == len(max_dets) - 1:
                voc["voc11"][k], voc["voc_all"][k] = _voc_ap(rc[0], pr[0])


def evaluate_detections(predictions: Sequence[dict[str, Any]], targets: Sequence[dict[str, Any]],
                        classes: Sequence[str] | int, iou_type: str = "bbox",
                        max_dets: Sequence[int] = (1, 10, 100)) -> DetectionEval:
    """Evaluate per-image predictions (``boxes`` xyxy, ``scores``, ``labels`` 0-based, and for segm ``masks``:
    (m, H, W) or (m, 1, H, W), bool / uint8 or probabilities thresholded at 0.5) against targets (``boxes``,
    ``labels``, optional ``iscrowd``, ``area``, ``masks``)."""
    if iou_type not in ("bbox", "segm"):
        raise ValueError(f"iou_type must be 'bbox' or 'segm', got {iou_type!r}")
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions for {len(targets)} images")
    names = [str(c) for c in range(classes)] if isinstance(classes, int) else list(classes)
    max_dets = tuple(sorted(int(m) for m in max_dets))
    per_class = [_ClassMatches() for _ in names]
    for pred, target in zip(predictions, targets):
        _image(pred, target, len(names), iou_type, max_dets[-1], per_class)
    shape = (len(IOU_THRESHOLDS), len(names), len(AREA_RANGES), len(max_dets))
    precision, recall = -np.ones(shape[:1] + (len(RECALL_POINTS),) + shape[1:]), -np.ones(shape)
    voc = {"voc11": -np.ones(len(names)), "voc_all": -np.ones(len(names))}
    for k, entry in enumerate(per_class):
        if entry.scores:
            _accumulate(entry, k, max_dets, precision, recall, voc)
    return DetectionEval(precision, recall, names, max_dets, iou_type, voc)
