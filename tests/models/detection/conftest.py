"""Tiny synthetic detection scenes (sklearn's 8x8 digits pasted on a blank canvas) and an mAP@0.5 check."""
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torchvision.ops import box_iou


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    yield


def digit_scenes(n: int = 4, side: int = 64, classes: int = 3, per_image: int = 2, scale: int = 2, seed: int = 0):
    """(n, 1, side, side) float images with ``per_image`` non-overlapping digits 0..classes-1 each, 8*scale px."""
    g = torch.Generator().manual_seed(seed)
    digits = load_digits()
    images = torch.zeros(n, 1, side, side)
    targets = []
    d = 8 * scale
    for i in range(n):
        boxes, labels = [], []
        while len(boxes) < per_image:
            x, y = torch.randint(0, side - d + 1, (2,), generator=g).tolist()
            box = torch.tensor([[x, y, x + d, y + d]], dtype=torch.float32)
            if boxes and box_iou(box, torch.cat(boxes)).max() > 0:
                continue
            label = int(torch.randint(0, classes, (1,), generator=g))
            picks = torch.nonzero(torch.as_tensor(digits.target) == label).squeeze(1)
            k = int(picks[torch.randint(0, len(picks), (1,), generator=g)])
            digit = torch.as_tensor(digits.images[k], dtype=torch.float32)[None, None] / 16
            images[i, :, y:y + d, x:x + d] = F.interpolate(digit, scale_factor=scale, mode="nearest")[0]
            boxes.append(box)
            labels.append(label)
        targets.append({"boxes": torch.cat(boxes), "labels": torch.tensor(labels)})
    return (images - 0.5) / 0.5, targets


def average_precision(preds, targets, cls: int, iou: float = 0.5) -> float:
    """VOC all-point AP of one class: detections by score, greedy match to unmatched boxes at IoU >= ``iou``."""
    scored = []
    total = 0
    for p, t in zip(preds, targets):
        gt = t["boxes"][t["labels"] == cls]
        total += len(gt)
        used = torch.zeros(len(gt), dtype=torch.bool)
        mine = p["labels"] == cls
        boxes, scores = p["boxes"][mine], p["scores"][mine]
        for j in scores.argsort(descending=True).tolist():
            ok = False
            if len(gt):
                ious = box_iou(boxes[j:j + 1], gt)[0].masked_fill(used, -1)
                best = int(ious.argmax())
                if ious[best] >= iou:
                    used[best], ok = True, True
            scored.append((float(scores[j]), ok))
    if total == 0:
        return float("nan")
    scored.sort(key=lambda s: -s[0])
    tp = torch.tensor([ok for _, ok in scored], dtype=torch.float32).cumsum(0)
    precision = tp / torch.arange(1, len(scored) + 1)
    recall = tp / total
    ap, prev = 0.0, 0.0
    for k in range(len(scored)):  # area under the monotone precision envelope
        if scored[k][1]:
            ap += (float(recall[k]) - prev) * float(precision[k:].max())
            prev = float(recall[k])
    return ap


def mean_ap(preds, targets, classes: int) -> float:
    aps = [average_precision(preds, targets, c) for c in range(classes)]
    aps = [a for a in aps if a == a]
    return sum(aps) / len(aps)
