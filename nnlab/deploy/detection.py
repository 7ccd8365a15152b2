"""What a detection run exports, and how a deployed detector's outputs become detections.

One-stage detectors (yolo, ssd, retinanet, detectnet) export their **dense** network: images (B, C, H, W) ->
``boxes`` (B, N, 4) decoded into input pixels, ``scores`` (B, N, K) (+ ``coverage`` (B, N) for DetectNet), any
batch size. Candidates, score threshold, clipping, per-class NMS and the detection cap stay outside the graph in
``nnlab.models.detection.postprocess.postprocess``, the very function the eager ``Detector`` calls, so a
deployed model and ``nnlab predict`` cannot drift; its options travel in the file's metadata.

Two-stage detectors (faster_rcnn, fast_rcnn, mask_rcnn) cannot be cut that way: their second stage runs on the
first stage's proposals after NMS. torchvision's parts trace cleanly for one image, so they export **whole** at
batch 1 (``boxes`` (m, 4), ``scores`` (m,), ``labels`` (m,) with the same post-processing traced inside the graph;
Mask R-CNN adds ``masks`` (m, H, W), each detection's mask probabilities pasted into the input, through
torchvision's ONNX-traceable paste loop).
Classic detectors (sliding window, HOG + SVM, Haar ...) are not networks and are refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from nnlab.errors import UserError
from nnlab.models.detection.detector import Detector
from nnlab.models.detection.mask_rcnn import MaskDetector
from nnlab.models.detection.postprocess import PostProcess, postprocess

WHOLE_OUTPUTS = ("boxes", "scores", "labels")
MASK_OUTPUTS = (*WHOLE_OUTPUTS, "masks")  # Mask R-CNN's whole graph


class DenseGraph(nn.Module):
    """images -> the detector's dense tensors, as a tuple in ``outputs`` order (what ONNX traces)."""

    def __init__(self, detector: Detector) -> None:
        super().__init__()
        self.detector = detector
        self.outputs = detector.postprocessing().outputs

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        dense = self.detector.dense(images)
        return tuple(dense[name] for name in self.outputs)


class WholeGraph(nn.Module):
    """One image (1, C, H, W) -> its final boxes (m, 4), scores (m,), labels (m,) (+ masks (m, H, W)), in
    ``outputs`` order: post-processing inside. ``detect`` (default: the model itself) maps a normalized batch to
    detections, e.g. the detect task's ``detect``, which gives classic detectors their raw pixels."""

    def __init__(self, model: nn.Module, detect: Callable[[torch.Tensor], list[dict[str, torch.Tensor]]] | None
                 = None, outputs: tuple[str, ...] = WHOLE_OUTPUTS) -> None:
        super().__init__()
        self.model, self.detect, self.outputs = model, detect, outputs

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        (found,) = (self.detect or self.model)(images)
        return tuple(found[name] for name in self.outputs)


class NotExportable(UserError):
    """A detection run's model is no network to export (deploy then runs it eagerly)."""


@dataclass
class Graph:
    """What gets exported: the module, its output names, whether it takes any batch size, extra metadata, and
    how an exported output is compared with the eager one (None: element by element)."""

    module: nn.Module
    outputs: tuple[str, ...]
    batch_one: bool
    meta: dict[str, Any]
    compare: Callable[[Sequence[np.ndarray], Sequence[np.ndarray]], float] | None = None


def detection_graph(model: nn.Module, name: str, info: dict[str, Any]) -> Graph:
    """The exportable graph of a detection run's model (``name``: its registry name, for messages)."""
    if not isinstance(model, Detector):
        raise NotExportable(f"detector {name!r} is not a network made of a backbone, neck and head (a classic "
                            "detector) and cannot be exported; `nnlab deploy RUN_DIR` serves it eagerly")
    common = {"resize_mode": info.get("resize_mode", "squash"), "postprocess": model.postprocessing().to_dict()}
    if model.head.decode is None:
        names = MASK_OUTPUTS if isinstance(model, MaskDetector) else WHOLE_OUTPUTS
        return Graph(WholeGraph(model, outputs=names).eval(), names, True,
                     {**common, "graph": "whole", "outputs": list(names)},
                     lambda a, b: detection_diff(dict(zip(names, a)), dict(zip(names, b))))
    return Graph(DenseGraph(model).eval(), model.postprocessing().outputs, False, {**common, "graph": "dense"})


def eager_graph(model: nn.Module, name: str, info: dict[str, Any],
                detect: Callable[[torch.Tensor], list[dict[str, torch.Tensor]]]) -> Graph:
    """What eager deployment runs: the graph an export would trace, or for a classic detector the task's own
    ``detect`` one image at a time (its selection inside, as in ``nnlab predict``)."""
    try:
        return detection_graph(model, name, info)
    except NotExportable:
        meta = {"resize_mode": info.get("resize_mode", "squash"), "graph": "whole"}
        return Graph(WholeGraph(model, detect), WHOLE_OUTPUTS, True, meta)


class DetectionDecoder:
    """Turns a deployed detector's outputs (one batch, one array per output name) into detections per image,
    with the run's post-processing (its score threshold replaced when a request asks)."""

    def __init__(self, meta: dict[str, Any]) -> None:
        self.spec = PostProcess.from_dict(meta.get("postprocess") or {})  # none: a classic detector selects itself
        self.whole = meta.get("graph") == "whole"
        whole = tuple(meta.get("outputs") or WHOLE_OUTPUTS)  # a Mask R-CNN graph adds masks
        self.outputs: tuple[str, ...] = whole if self.whole else self.spec.outputs

    def __call__(self, arrays: Sequence[np.ndarray], image_size: tuple[int, int],
                 score_threshold: float | None = None) -> list[dict[str, torch.Tensor]]:
        tensors = {name: torch.from_numpy(np.asarray(a)) for name, a in zip(self.outputs, arrays)}
        if not self.whole:
            return postprocess(tensors, image_size, self.spec.with_threshold(score_threshold))
        if score_threshold is not None:  # the graph selected with its own threshold: a request can only raise it
            keep = tensors["scores"] > score_threshold
            tensors = {name: t[keep] for name, t in tensors.items()}
        return [tensors]  # one image


def detection_diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    """Largest box or score difference between two sets of detections of one image, matched one to one (same
    label, closest box and score), whatever their order: detections whose scores tie within float error may
    come in either order from two runtimes; with ``masks`` in both, also the largest mask probability
    difference of the paired detections. ``inf`` when the counts or the labels do not pair up."""
    boxes_a, boxes_b = torch.as_tensor(a["boxes"]).double(), torch.as_tensor(b["boxes"]).double()  # (m, 4)
    if len(boxes_a) != len(boxes_b):
        return float("inf")
    scores_a, scores_b = torch.as_tensor(a["scores"]).double(), torch.as_tensor(b["scores"]).double()
    cost = torch.maximum((boxes_a[:, None] - boxes_b[None]).abs().amax(-1),
                         (scores_a[:, None] - scores_b[None]).abs())  # (m, m)
    cost[torch.as_tensor(a["labels"])[:, None] != torch.as_tensor(b["labels"])[None]] = float("inf")
    worst, masks = 0.0, "masks" in a and "masks" in b
    for i in scores_a.argsort(descending=True).tolist():  # greedy: best remaining partner, strongest first
        j = int(cost[i].argmin())
        worst = max(worst, float(cost[i, j]))
        if masks:  # (H, W) probabilities of the pair
            diff = (torch.as_tensor(a["masks"][i]).double() - torch.as_tensor(b["masks"][j]).double()).abs()
            worst = max(worst, float(diff.max()) if diff.numel() else 0.0)
        cost[:, j] = float("inf")
    return worst
