"""Explaining a segmentation: which input pixels drive one class's logits over a set of output pixels.

``PixelClassScore`` wraps a segmenter as a one-output model: class C's logits summed (or averaged) over a fixed
pixel mask — the pixels the model predicts as C on the unperturbed image, or a rectangle the user gives — so
the attribution methods explain that scalar (saliency: d score / d pixel; occlusion: how much hiding a patch
lowers it; Grad-CAM: the layer's channels weighted by its gradient). The mask stays fixed while occlusion or
integrated gradients perturb the input, so every perturbed input is scored on the same pixels.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from nnlab.errors import UserError
from nnlab.explain.attribution import Options, explain_score
from nnlab.explain.common import check_target

REDUCTIONS = ("sum", "mean")


class PixelClassScore(nn.Module):
    """(B, C, H, W) -> (B, 1): ``reduce`` of class ``cls``'s logits over the pixels where ``mask`` (H, W) is set."""

    def __init__(self, segmenter: nn.Module, cls: int, mask: torch.Tensor, reduce: str = "sum") -> None:
        super().__init__()
        if reduce not in REDUCTIONS:
            raise UserError(f"unknown reduction {reduce!r}; choose {' or '.join(REDUCTIONS)}")
        self.segmenter, self.cls, self.reduce = segmenter, cls, reduce
        self.register_buffer("mask", mask.detach().float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.segmenter(x)[:, self.cls]  # (B, H, W)
        total = (logits * self.mask).sum(dim=(1, 2))  # (B,): pixels outside the mask get no gradient
        if self.reduce == "mean":
            total = total / self.mask.sum().clamp_min(1)
        return total[:, None]


def parse_region(text: str | None) -> tuple[int, int, int, int] | None:
    """``x1,y1,x2,y2`` (pixels of the model's input, x2 / y2 exclusive) -> a tuple; None passes through."""
    if text is None:
        return None
    try:
        box = tuple(int(v) for v in text.split(","))
    except ValueError:
        box = ()
    if len(box) != 4:
        raise UserError(f"--region takes x1,y1,x2,y2 in pixels of the model's input, got {text!r}")
    return box  # type: ignore[return-value]


def pixel_mask(segmenter: nn.Module, x: torch.Tensor, cls: int, region: Sequence[int] | None,
               classes: Sequence[str]) -> torch.Tensor:
    """The pixels (H, W) bool to explain on x (1, C, H, W): the given region, else those predicted as ``cls``."""
    h, w = x.shape[2:]
    if region is not None:
        x1, y1, x2, y2 = region
        if not (0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h):
            raise UserError(f"--region {x1},{y1},{x2},{y2} is not a non-empty box inside the {w}x{h} input "
                            "(x1,y1,x2,y2 with x2, y2 exclusive)")
        mask = torch.zeros(h, w, dtype=torch.bool)
        mask[y1:y2, x1:x2] = True
        return mask
    with torch.no_grad():
        mask = segmenter(x)[0].argmax(0) == cls  # (H, W)
    if not mask.any():
        raise UserError(f"no pixel of this image is predicted as class {cls} ({classes[cls]}); give --region "
                        "x1,y1,x2,y2 to explain the class's logits over a region instead")
    return mask


def check_pixel_class(cls: int | None, classes: Sequence[str]) -> int:
    """Segmentation runs explain one class's pixels: --pixel-class is required and in range."""
    if cls is None:
        names = ", ".join(f"{i}={c}" for i, c in enumerate(classes))
        raise UserError(f"a segmentation run explains one class's pixels: give --pixel-class C ({names})")
    return check_target(cls, classes)  # type: ignore[return-value]


def explain_pixels(segmenter: nn.Module, x: torch.Tensor, cls: int, method: str, layer: str | None,
                   options: Options, region: Sequence[int] | None = None, reduce: str = "sum",
                   classes: Sequence[str] = ()) -> tuple[torch.Tensor, torch.Tensor, str | None, float]:
    """The map (H, W) of ``method`` for class ``cls``'s pixels on x (1, C, H, W), the pixel mask (H, W), the
    layer explained and the explained score on the unperturbed image."""
    segmenter = segmenter.eval()
    mask = pixel_mask(segmenter, x, cls, region, classes or [str(i) for i in range(cls + 1)])
    score = PixelClassScore(segmenter, cls, mask, reduce)
    heat, layer = explain_score(score, x, method, layer, "segmenter", options)
    with torch.no_grad():
        value = float(score(x)[0, 0])
    return heat, mask, layer, value
