"""nnlab's detection evaluator (nnlab.metrics.detection) vs pycocotools' COCOeval on the same synthetic
predictions: seconds for each, and the largest difference in any precision / recall entry (should be 0).

    python benchmarks/eval_speed.py [--images 5000] [--classes 10] [--seed 0]

Each image holds 0-8 ground-truth boxes (10% crowd) and noisy copies of them plus false positives (up to ~20
detections), the shape of a trained detector's output after NMS.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from nnlab.metrics.coco_reference import cocoeval
from nnlab.metrics.detection import evaluate_detections


def synthetic(n_images: int, n_classes: int, seed: int) -> tuple[list[dict], list[dict]]:
    rng = np.random.default_rng(seed)
    preds, targets = [], []
    for _ in range(n_images):
        g = int(rng.integers(0, 9))
        xy = rng.uniform(0, 500, (g, 2))
        gt = np.concatenate([xy, xy + rng.uniform(8, 200, (g, 2))], 1)
        labels = rng.integers(0, n_classes, g)
        noise = rng.normal(0, 6, gt.shape)
        f = int(rng.integers(0, 12))
        fxy = rng.uniform(0, 500, (f, 2))
        boxes = np.concatenate([gt + noise, np.concatenate([fxy, fxy + rng.uniform(8, 200, (f, 2))], 1)])
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
        scores = np.concatenate([1 / (1 + np.abs(noise).mean(1)), rng.uniform(0, 0.5, f)])
        targets.append({"boxes": gt, "labels": labels, "iscrowd": rng.random(g) < 0.1})
        preds.append({"boxes": boxes, "labels": np.concatenate([labels, rng.integers(0, n_classes, f)]),
                      "scores": scores})
    return preds, targets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    preds, targets = synthetic(args.images, args.classes, args.seed)
    n_dets = sum(len(p["scores"]) for p in preds)
    t0 = time.perf_counter()
    ours = evaluate_detections(preds, targets, args.classes)
    t1 = time.perf_counter()
    ref = cocoeval(preds, targets, args.classes)
    t2 = time.perf_counter()
    diff = max(np.abs(ours.precision - ref.eval["precision"]).max(), np.abs(ours.recall - ref.eval["recall"]).max())
    print(f"{args.images} images, {n_dets} detections, {args.classes} classes")
    print(f"nnlab.metrics.detection: {t1 - t0:.2f} s   mAP {ours.stats['mAP']:.4f}  mAP50 {ours.stats['mAP50']:.4f}")
    print(f"pycocotools COCOeval   : {t2 - t1:.2f} s   (evaluate + accumulate)")
    print(f"speed-up {(t2 - t1) / (t1 - t0):.1f}x; largest precision/recall difference {diff:.2e}")


if __name__ == "__main__":
    main()
