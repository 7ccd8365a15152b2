"""Explaining one detected box: the attribution methods applied to the score of a detection.

``BoxScore`` wraps a detector as a one-output model: for each (perturbed) input, the best score among the
detections of the reference box's class that overlap it (IoU >= 0.5), 0 when the box is gone — so occlusion
measures how much hiding a patch lowers that box's score, and gradients flow through the kept score.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torchvision.ops import box_iou

from nnlab.errors import UserError
from nnlab.models.detection.detector import Detector
from nnlab.explain.attribution import LAYER_METHODS, Options, explain_score, spatial_layers
from nnlab.explain.common import check_image_channels, out_of_place

IOU = 0.5  # a perturbed input's detection is "the same box" above this overlap with the reference


class BoxScore(nn.Module):
    """(B, C, H, W) -> (B, 1): the score of the detection that matches ``box`` (4,) xyxy of class ``label``."""

    def __init__(self, detector: nn.Module, box: torch.Tensor, label: int) -> None:
        super().__init__()
        self.detector, self.label = detector, label
        self.register_buffer("box", box.detach().float().reshape(1, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = []
        for det in self.detector(x):
            match = (det["labels"] == self.label) & (box_iou(det["boxes"], self.box)[:, 0] >= IOU)
            s = det["scores"][match]
            scores.append(s.max() if len(s) else det["scores"].sum() * 0 + x.sum() * 0)  # 0, still in the graph
        return torch.stack(scores)[:, None]


def load_box_image(path: str | Path, pre: Any, mode: str, run_name: str) -> torch.Tensor:
    """One file resized as the detection run's data was (squash or letterbox), normalized: (1, C, H, W)."""
    from nnlab.data.boxes.dataset import resize_record
    from nnlab.data.boxes.records import BoxRecord
    from nnlab.data.imageio import open_image

    check_image_channels(path, pre.channels, run_name)
    img = open_image(path, pre.channels)
    arr, _, _ = resize_record(img, BoxRecord(Path(path).name, img.size[0], img.size[1]), pre.height, pre.width, mode)
    return pre.normalize(torch.from_numpy(np.ascontiguousarray(arr))[None])


def detections(detector: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The detector's boxes / scores / labels for one input (1, C, H, W), best first."""
    with torch.no_grad():
        (det,) = detector(x)
    order = det["scores"].argsort(descending=True)
    return {k: v[order] for k, v in det.items()}


def box_layer(model: BoxScore, x: torch.Tensor) -> str | None:
    """Grad-CAM's default layer for one box: the detector backbone's last feature map (more than one position)
    that the box's score depends on. A head predicts each box from one pyramid level; the deeper maps feed other
    levels, get no gradient from this box, and would give an empty Grad-CAM."""
    backbone = model.detector.backbone
    names = [n for n, hw in spatial_layers(backbone, tuple(x.shape[1:])).items() if hw[0] * hw[1] > 1]
    if not names:
        return None
    store: dict[str, torch.Tensor] = {}
    hooks = [backbone.get_submodule(n).register_forward_hook(lambda _m, _i, out, n=n: store.__setitem__(n, out))
             for n in names]
    try:
        score = model(x.detach())[0, 0]
    finally:
        for h in hooks:
            h.remove()
    grads = torch.autograd.grad(score, [store[n] for n in names], allow_unused=True)
    reached = [n for n, g in zip(names, grads) if g is not None and bool(g.abs().sum() > 0)]
    return f"backbone.{(reached or names)[-1]}"


def explain_box(detector: nn.Module, x: torch.Tensor, box: int, method: str, layer: str | None,
                options: Options) -> tuple[torch.Tensor, dict[str, Any]]:
    """The map (H, W) of ``method`` for detection number ``box`` (0 = the highest score) on x (1, C, H, W)."""
    detector = out_of_place(detector).eval()
    det = detections(detector, x)
    if not 0 <= box < len(det["scores"]):
        raise UserError(f"--box {box} is out of range: the detector found {len(det['scores'])} box(es) in this "
                        "image (0 = the highest score)")
    model = BoxScore(detector, det["boxes"][box], int(det["labels"][box]))
    if layer is None and method in LAYER_METHODS and isinstance(detector, Detector):
        layer = box_layer(model, x)
    heat, layer = explain_score(model, x, method, layer, "detector", options)
    found = {"box": [round(float(v), 1) for v in det["boxes"][box]], "label": int(det["labels"][box]),
             "score": float(det["scores"][box]), "layer": layer}
    return heat, found

