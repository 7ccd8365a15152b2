"""Looking inside a learned detector (backbone -> neck -> head): its backbone's feature maps, a t-SNE and nearest
neighbours of its objects' backbone features (RoIAlign of each backbone map over each box, as a two-stage head
pools a proposal), and gradient ascent on a class's best candidate score or on one detected box's score.

Classic detectors (HOG + SVM, Haar cascades, ...) have no backbone to look into and are refused by name.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
from torch import nn
from torchvision.ops import roi_align

from nnlab.errors import UserError
from nnlab.explain.common import Explained
from nnlab.explain.dream import Objective, Regularizers, dream
from nnlab.explain.features import nearest, neighbours_grid

CROP = 24  # side of the pixel-space crops of objects (what "pixel space" compares)


def detector_of(run: Explained, what: str) -> nn.Module:
    """The run's ``Detector(backbone, neck, head)``; a classic detector is refused with why."""
    from nnlab.models.detection.detector import Detector

    if not isinstance(run.model, Detector):
        raise UserError(f"nnlab {what} on a detection run needs a learned Detector(backbone, neck, head); "
                        f"{run.name}'s model is {type(run.model).__name__}, a classic detector without a backbone "
                        "to look into (use nnlab explain RUN IMAGE --method occlusion --box N for its boxes)")
    return run.model


class ClassScores(nn.Module):
    """(B, C, H, W) -> (B, K): each class's best candidate score (objectness x class for YOLO) before the score
    threshold and NMS, so a class has a score, and a gradient, even where nothing is detected yet."""

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        det = self.detector
        maps, size = det.neck(det.backbone(x)), (x.shape[-2], x.shape[-1])
        if det.head.decode is not None:  # one-stage: every location's class scores, (B, N, K)
            return det.head.dense(maps, size)["scores"].amax(1)
        candidates = det.head.predict(maps, size)
        zero = x.sum() * 0  # keeps an empty row in the graph
        return torch.stack([(zero + x.new_zeros(det.num_classes)).scatter_reduce(0, c["labels"], c["scores"],
                                                                                 "amax") for c in candidates])


class LogOf(nn.Module):
    """log of a model's scores in (0, 1]: gradient ascent on a sigmoid-product score stalls where the score is
    near 0 (its gradient vanishes with it); its log behaves like the unnormalized class score Simonyan et al.
    ascend. A score of 0 (no candidate at all) reads as log 1e-6, with no gradient."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).clamp_min(1e-6).log()


def object_features(detector: nn.Module, x: torch.Tensor, boxes: list[torch.Tensor]) -> torch.Tensor:
    """(M, D): every backbone map RoIAligned (2x2, averaged) over each box and concatenated (the level a box is
    predicted from and the deeper context), boxes[i] (m_i, 4) xyxy in input pixels of image x[i]; M = sum m_i."""
    with torch.no_grad():
        maps = list(detector.backbone(x).values())  # each (B, D_l, H / s_l, W / s_l)
    pooled = [roi_align(m, [b.float() for b in boxes], output_size=2, spatial_scale=m.shape[-1] / x.shape[-1],
                        sampling_ratio=2, aligned=True).mean(dim=(2, 3)) for m in maps]  # each (M, D_l)
    return torch.cat(pooled, 1)


def object_split(run: Explained, split: str, limit: int | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The objects of the first ``limit`` images of a split: backbone features (M, D), labels (M,) and crops
    (M, C, CROP, CROP) warped from the normalized images (pixel space)."""
    from nnlab.api import run_data
    from nnlab.models.detection.classic.base import warp_crops

    detector = detector_of(run, "explain")
    data = run_data(run.run.dir, run.run.config).split(split)  # an unknown split lists the ones there are
    images, targets = data.images[:limit], data.targets[:limit]
    feats, labels, crops = [], [], []
    for i in range(0, len(images), 64):
        x = run.preprocess.normalize(images[i:i + 64])
        boxes = [t["boxes"] for t in targets[i:i + 64]]
        feats.append(object_features(detector, x, boxes))
        crops += [warp_crops(img, b, (CROP, CROP)) for img, b in zip(x, boxes)]
        labels += [t["labels"] for t in targets[i:i + 64]]
    if not feats or not sum(len(c) for c in crops):
        raise UserError(f"the {split} split has no boxes to describe")
    return torch.cat(feats), torch.cat(labels).long(), torch.cat(crops)


def detected_box(run: Explained, x: torch.Tensor, box: int) -> tuple[torch.Tensor, int, float]:
    """Detection number ``box`` (0 = the highest score) on x (1, C, H, W): its xyxy (4,), label and score."""
    from nnlab.explain.detection import detections

    det = detections(detector_of(run, "explain"), x)
    if not 0 <= box < len(det["scores"]):
        raise UserError(f"--box {box} is out of range: the detector found {len(det['scores'])} box(es) in this "
                        "image (0 = the highest score)")
    return det["boxes"][box], int(det["labels"][box]), float(det["scores"][box])


def box_neighbours(run: Explained, image: str | Path, box: int = 0, k: int = 5, split: str = "train",
                   out: str | Path | None = None) -> tuple[dict[str, list[tuple[int, int, float]]], Path | None]:
    """The ``k`` objects of a split nearest to detection ``box`` of an image, in backbone-feature space and in
    pixel space (the warped crops): {"feature"|"pixel": [(object index, label, distance)]}, and the grid PNG."""
    from nnlab.models.detection.classic.base import warp_crops

    x = run.load_images([image])  # (1, C, H, W)
    xyxy, _, _ = detected_box(run, x, box)
    query_f = object_features(run.model, x, [xyxy[None]])
    query_crop = warp_crops(x[0], xyxy[None], (CROP, CROP))  # (1, C, CROP, CROP)
    feats, labels, crops = object_split(run, split)
    found = nearest({"feature": (query_f, feats), "pixel": (query_crop.flatten(1), crops.flatten(1))}, labels, k)
    png = None if out is None else neighbours_grid(run, query_crop, crops, found, out,
                                                   f"nearest {split} objects to box {box}")
    return found, png


def detection_dream(run: Explained, obj: Objective, reg: Regularizers, steps: int = 200, lr: float = 0.1,
                    seed: int = 0, image: str | Path | None = None, box: int | None = None
                    ) -> tuple[torch.Tensor, Explained, Objective, str]:
    """Gradient ascent on a detection run: a class's best candidate score (``obj.cls``), one unit of a layer,
    or (``image`` + ``box``) the score of that detection, starting from the image. Returns the image, the
    one-output view of the run that was maximized, its objective and what the result reads."""
    detector = detector_of(run, "explain dream")
    if (image is None) != (box is None):
        raise UserError("a box score is maximized from an image: give both --image FILE and --box N")
    if box is not None:
        from nnlab.explain.detection import BoxScore

        if obj.cls is not None or obj.layer is not None:
            raise UserError("give --box N (with --image), or --class C, or --layer L --unit U; not several")
        x0 = run.load_images([image])
        xyxy, label, score = detected_box(run, x0, box)
        scorer = BoxScore(detector, xyxy, label).eval()
        view = replace(run, model=LogOf(scorer), classes=[run.classes[label]])
        x = dream(view, Objective(0), reg, steps, lr, seed, start=x0)
        return x, view, Objective(0), f"box {box} {run.classes[label]}: score {score:.3f} -> {_read(scorer, x, 0):.3f}"
    if obj.layer is not None:
        return dream(run, obj, reg, steps, lr, seed), run, obj, f"{obj.layer} unit {obj.unit}"
    scorer = ClassScores(detector).eval()
    view = replace(run, model=LogOf(scorer))
    x = dream(view, obj, reg, steps, lr, seed)  # checks the objective (exactly one form, class in range)
    return x, view, obj, f"class {run.classes[obj.cls]}: best candidate score {_read(scorer, x, obj.cls):.3f}"


def _read(model: nn.Module, x: torch.Tensor, index: int) -> float:
    with torch.no_grad():
        return float(model(x)[0, index])
