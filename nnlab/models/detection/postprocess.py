"""Detection post-processing: dense head outputs -> per-image detections, in ONE function that the eager
``Detector`` and a deployed (ONNX Runtime / TorchScript) network both call, so the two cannot drift.

A one-stage head's ``dense`` outputs are fixed-shape, batch-first tensors with boxes already decoded into image
pixels (the anchor arithmetic is part of the exported graph):
``boxes`` (B, N, 4) xyxy and ``scores`` (B, N, K) per class, plus ``coverage`` (B, N) for DetectNet. What
follows has data-dependent shapes and stays outside the graph: candidates (the ``topk`` best (box, class)
pairs, or DetectNet's covered cells ``cluster``ed into boxes), then score threshold -> clip -> per-class NMS
(torchvision.ops.batched_nms) -> the ``max_detections`` best. ``PostProcess`` is plain data: an exported file
carries it in its metadata.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping

import torch
from torchvision.ops import batched_nms, box_iou, clip_boxes_to_image

from nnlab.errors import ConfigError

Detections = list[dict[str, torch.Tensor]]
DECODERS = ("topk", "cluster")
DENSE_OUTPUTS = {"topk": ("boxes", "scores"), "cluster": ("boxes", "scores", "coverage")}


@dataclass(frozen=True)
class PostProcess:
    """How candidates are chosen and selected. ``topk``: the ``topk`` best (box, class) pairs above
    ``min_score``; ``cluster``: cells with coverage above ``coverage_thresh`` grouped by ``cluster_iou``."""

    decode: str = "topk"
    score_thresh: float = 0.05
    nms_thresh: float = 0.5
    max_detections: int = 100
    min_score: float = 1e-3
    topk: int = 1000
    coverage_thresh: float = 0.4
    cluster_iou: float = 0.4
    min_cells: int = 1

    def __post_init__(self) -> None:
        if self.decode not in DECODERS:
            raise ConfigError(f"unknown detection decoder {self.decode!r}; valid: {', '.join(DECODERS)}")
        if not 0 <= self.score_thresh < 1 or not 0 < self.nms_thresh <= 1 or self.max_detections < 1:
            raise ConfigError("detector needs 0 <= score_thresh < 1, 0 < nms_thresh <= 1 and max_detections >= 1")

    @property
    def outputs(self) -> tuple[str, ...]:
        """Names of the dense tensors this decoder reads (the exported graph's outputs, in order)."""
        return DENSE_OUTPUTS[self.decode]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PostProcess":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def with_threshold(self, score_thresh: float | None) -> "PostProcess":
        """The same post-processing with another score threshold (None: unchanged)."""
        return self if score_thresh is None else replace(self, score_thresh=float(score_thresh))


def postprocess(dense: Mapping[str, torch.Tensor], image_size: tuple[int, int], spec: PostProcess) -> Detections:
    """Dense outputs of a batch -> ``{"boxes", "scores", "labels"}`` per image (the conventions' format)."""
    boxes, scores = dense["boxes"].float(), dense["scores"].float()  # (B, N, 4), (B, N, K)
    if spec.decode == "topk":  # pairs under the score threshold would be dropped next: never candidates
        floor = max(spec.min_score, spec.score_thresh)
        found = [top_candidates(b, s, spec.topk, floor) for b, s in zip(boxes, scores)]
    else:
        found = [covered_cells(b, s, c.float(), spec) for b, s, c in zip(boxes, scores, dense["coverage"])]
    return [select(c, image_size, spec) for c in found]


def select(c: Mapping[str, torch.Tensor], size: tuple[int, int], spec: PostProcess) -> dict[str, torch.Tensor]:
    """Score threshold -> clip -> per-class NMS -> the ``max_detections`` best."""
    keep = c["scores"] > spec.score_thresh
    boxes, scores, labels = clip_boxes_to_image(c["boxes"][keep], size), c["scores"][keep], c["labels"][keep]
    keep = batched_nms(boxes.float(), scores.float(), labels, spec.nms_thresh)[: spec.max_detections]
    return {"boxes": boxes[keep].float(), "scores": scores[keep].float(), "labels": labels[keep].long()}


def top_candidates(boxes: torch.Tensor, scores: torch.Tensor, topk: int = 1000,
                   min_score: float = 0.0) -> dict[str, torch.Tensor]:
    """Candidates from per-box class scores: (N, 4) boxes, (N, K) scores -> the ``topk`` best (box, class)
    pairs above ``min_score`` as ``{"boxes", "scores", "labels"}`` (labels 0..K-1)."""
    box, label = torch.nonzero(scores > min_score, as_tuple=True)  # (M,) each, in (box, class) order
    flat = scores[box, label]  # (M,): no copy of the whole (N, K) scores
    top = flat.topk(min(topk, len(flat))).indices
    return {"boxes": boxes[box[top]], "scores": flat[top], "labels": label[top]}


def covered_cells(boxes: torch.Tensor, scores: torch.Tensor, coverage: torch.Tensor,
                  spec: PostProcess) -> dict[str, torch.Tensor]:
    """DetectNet: cells whose coverage (N,) passes the threshold vote their boxes (N, 4); each cell's score is
    its best class's (N, K) score; the votes are clustered into detections."""
    score, label = scores.max(-1)  # (N,) each
    on = coverage > spec.coverage_thresh
    return cluster(boxes[on], score[on], label[on], spec.cluster_iou, spec.min_cells)


def cluster(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou: float,
            min_cells: int) -> dict[str, torch.Tensor]:
    """Greedy grouping: the best remaining cell gathers all same-class cells whose box overlaps its box by more
    than ``iou``; a group of at least ``min_cells`` becomes one box (coverage-weighted mean), score its max."""
    left = torch.ones(len(boxes), dtype=torch.bool, device=boxes.device)
    out_b, out_s, out_l = [], [], []
    for i in scores.argsort(descending=True).tolist():
        if not left[i]:
            continue
        group = left & (labels == labels[i]) & (box_iou(boxes[i:i + 1], boxes)[0] > iou)
        group[i] = True
        left &= ~group
        if int(group.sum()) >= min_cells:
            wgt = scores[group][:, None]
            out_b.append((boxes[group] * wgt).sum(0) / wgt.sum())
            out_s.append(scores[group].max())
            out_l.append(labels[i])
    if not out_b:
        return {"boxes": boxes.new_zeros(0, 4), "scores": scores.new_zeros(0), "labels": labels.new_zeros(0)}
    return {"boxes": torch.stack(out_b), "scores": torch.stack(out_s), "labels": torch.stack(out_l)}
