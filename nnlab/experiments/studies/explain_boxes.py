"""The explain study's pointing games with boxes: a detector's box scores on one-digit scenes, and a classifier
trained on raccoon crops vs background, explained on whole raccoon photos (skipped when the photos are absent).

Detector: each test scene's top detection is explained (its score as a one-output model, detection.BoxScore); a
method hits when the map's peak lies inside the true box the detection covers (scenes whose top box overlaps
no digit by IoU >= 0.5 are left out and counted). Raccoons: the raccoon class's map on the whole photo hits when
its peak lies inside a raccoon's box. Chance: the boxes' share of the image.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torchvision.ops import box_iou

from nnlab.data.boxes.scenes import generate_scenes
from nnlab.experiments.studies.report import StudyContext
from nnlab.experiments.studies.explain_pointing import SCALE, SIZE, Pointing, classifier_pointing, score_methods
from nnlab.explain.attribution import Options
from nnlab.explain.common import open_classifier

RACCOON = 64  # side of the raccoon classifier's input (crops and photos)


def detector_config(n_train: int, epochs: int) -> dict:
    """A tiny-backbone YOLO on one-digit scenes like the classifier's."""
    return {"name": "yolo_scenes", "seed": 0, "task": "detect",
            "data": {"dataset": "scenes", "image_size": [SIZE, SIZE], "val_fraction": 0.1},
            "detect": {"scenes": {"n": n_train, "n_test": 50, "digits": [1, 1], "scale": list(SCALE),
                                  "clutter": False}},
            "model": {"name": "yolo", "neck": "none"}, "optim": {"name": "adam", "lr": 3e-3},
            "train": {"epochs": epochs, "batch_size": 32, "checkpoint": {"keep_last": 0}}}


def matched_top_boxes(detector: torch.nn.Module, x: torch.Tensor, targets: list[dict[str, torch.Tensor]],
                      iou: float = 0.5) -> list[int]:
    """The images of x (N, C, H, W) whose top detection covers a true box (IoU >= ``iou``, any class): the
    pointing game asks whether the explanation of a box's score points at the object in that box."""
    from nnlab.explain.detection import detections

    keep = []
    for i, t in enumerate(targets):
        det = detections(detector, x[i:i + 1])
        if len(det["boxes"]) and len(t["boxes"]) and float(box_iou(det["boxes"][:1], t["boxes"]).max()) >= iou:
            keep.append(i)
    return keep


def detector_pointing(ctx: StudyContext, n_train: int, n_test: int, epochs: int) -> tuple[Pointing, str]:
    """Train the detector, explain each test scene's top detection by every method; the scores and a setup line."""
    from nnlab.explain.detection import explain_box

    run = ctx.fit(detector_config(n_train, epochs))
    ex = open_classifier(run.dir, tasks=("detect",))
    test = generate_scenes(n_test, SIZE, (1, 1), SCALE, seed=1)
    x = ex.preprocess.normalize(test.images)  # (N, 3, S, S)
    keep = matched_top_boxes(ex.model, x, test.targets)
    boxes = [test.targets[i]["boxes"] for i in keep]
    opts = Options(baseline=ex.pixel_range()[0])
    maps_of = lambda m: torch.stack([explain_box(ex.model, x[i:i + 1], 0, m, None, opts)[0]  # noqa: E731
                                     for i in keep])
    found = score_methods(maps_of, boxes, (SIZE, SIZE), ctx.log, "detector") if keep else {}
    setup = (f"pointing game, detector: YOLO (tiny backbone) trained {epochs} epoch(s) on {n_train} one-digit "
             f"scenes (test mAP@0.5 {100 * run.test['mAP50']:.1f}%); {len(keep)} of {n_test} held-out scenes whose "
             "top detection covers the digit (IoU >= 0.5), its score explained; hit = peak inside that digit's box")
    return found, setup


def raccoon_root() -> Path | None:
    """The raccoon photos' folder, or None when absent (the study then skips the raccoon game)."""
    from nnlab.data.boxes.records import shared_places

    return next((p for p in shared_places("raccoon", "NNLAB_RACCOON") if (p / "annotations").is_dir()), None)


def raccoon_crops(root: Path, out: Path, seed: int = 0) -> Path:
    """A cache dataset of RACCOON px crops from the raccoon train photos: each raccoon box, and the box doubled
    (context, as on a whole photo), as class "raccoon"; random windows overlapping no raccoon as "background"."""
    from nnlab.data import ImageDataset, cache
    from nnlab.data.boxes.dataset import raccoon
    from nnlab.models.detection.classic.base import labelled_patches

    photos = raccoon(root, size=(2 * RACCOON, 2 * RACCOON), mode="squash")["train"]
    side = float(2 * RACCOON)
    wide = []
    for t in photos.targets:
        b = t["boxes"]
        c, half = (b[:, :2] + b[:, 2:]) / 2, (b[:, 2:] - b[:, :2])  # centre, twice the half size
        wide.append({"boxes": torch.cat([c - half, c + half], 1).clamp(0, side), "labels": t["labels"]})
    x1, y1 = labelled_patches(photos.images, photos.targets, 1, (RACCOON, RACCOON), negatives_per_image=2, seed=seed)
    x2, y2 = labelled_patches(photos.images, wide, 1, (RACCOON, RACCOON), negatives_per_image=0, seed=seed)
    images = (torch.cat([x1, x2]) * 255).round().clamp(0, 255).to(torch.uint8)  # (M, 3, S, S)
    labels = 1 - torch.cat([y1, y2])  # patches: raccoon 0, background 1 -> background 0, raccoon 1
    return cache.build({"train": ImageDataset(images, labels, ["background", "raccoon"])}, out, "raccoon crops")


def raccoon_pointing(ctx: StudyContext, epochs: int) -> tuple[Pointing, str]:
    """Train LeNet-5 on raccoon crops vs background, explain the raccoon class on each whole test photo."""
    from nnlab.data.boxes.dataset import raccoon

    root = raccoon_root()
    if root is None:
        return {}, "pointing game, raccoon photos: skipped (../shared/datasets/raccoon absent; set NNLAB_RACCOON)"
    data = raccoon_crops(root, ctx.out / "raccoon_crops")
    run = ctx.fit({"name": "lenet5_raccoon", "seed": 0, "model": {"name": "lenet5"},
                   "data": {"dataset": "cache", "path": str(data), "val_fraction": 0.1, "test_fraction": 0.15},
                   "optim": {"name": "adam", "lr": 1e-3},
                   "train": {"epochs": epochs, "batch_size": 32, "checkpoint": {"keep_last": 0}}})
    photos = raccoon(root, size=(RACCOON, RACCOON), mode="squash")["test"]
    target = torch.ones(len(photos), dtype=torch.long)  # the raccoon class
    found, found_rate = classifier_pointing(run.dir, photos.images, target, [t["boxes"] for t in photos.targets],
                                            ctx.log, "raccoons")
    setup = (f"pointing game, raccoon photos: LeNet-5 trained {epochs} epoch(s) on {RACCOON} px crops of the "
             f"raccoon train photos (boxes and boxes doubled vs background windows; crop test accuracy "
             f"{100 * run.test['acc']:.1f}%); the {len(photos)} test photos squashed to {RACCOON} px "
             f"({100 * found_rate:.0f}% called raccoon), the raccoon class explained; hit = peak inside a "
             "raccoon's box")
    return found, setup
