"""Class-model visualization and neuron maximization by gradient ascent on the input, weights fixed.

Simonyan et al. 2014: argmax_I S_c(I) - lambda ||I||^2 (the unnormalized class score, L2 decay). Yosinski et
al. 2015 add regularizers that keep the image natural: Gaussian blur every few steps, random jitter (shift) each
step, and clipping to the valid pixel range. Each regularizer switches off on its own so the user sees what it
does; ``class_probability`` reads the result back through the model.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from nnlab.errors import UserError
from nnlab.explain.common import Explained, check_target, check_unit, layer_output


@dataclass
class Regularizers:
    """Switches and strengths (defaults tuned for small grayscale images; all in normalized-input units)."""

    l2: float = 1e-3  # weight decay on the image each step (0: off)
    blur_sigma: float = 0.5  # Gaussian blur's sigma in pixels (0: off)
    blur_every: int = 4  # steps between blurs
    jitter: int | None = None  # random shift up to this many pixels per step (0: off; None: side // 16, so an
    # 8x8 digit is not shifted by an eighth of itself and a 224 px image moves by up to 14)
    clip: bool = True  # keep pixels inside [black, white] of the run's preprocessing


@dataclass
class Objective:
    """A class score (``cls``) or one unit of a layer (``layer`` + ``unit``: a channel's mean, or a neuron)."""

    cls: int | None = None
    layer: str | None = None
    unit: int | None = None


def check_objective(run: Explained, obj: Objective) -> None:
    """Exactly one of --class or --layer/--unit, each in range, before any step."""
    if (obj.cls is None) == (obj.layer is None):
        raise UserError("give --class C, or --layer L with --unit U")
    if obj.cls is not None:
        check_target(obj.cls, run.classes)
        return
    if obj.unit is None:
        raise UserError("--layer needs --unit U (the channel or neuron to maximize)")
    check_unit(run, obj.layer, obj.unit)


def _score(model: nn.Module, x: torch.Tensor, obj: Objective) -> torch.Tensor:
    if obj.cls is not None:
        return model(x)[0, obj.cls]  # the class score before softmax (Simonyan et al.)
    out = layer_output(model, obj.layer, x)[0, obj.unit]  # (h, w) or a scalar
    return out.mean()


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W) with reflect padding (radius 2 sigma, at least 1)."""
    r = max(1, int(round(2 * sigma)))
    k = torch.exp(-torch.arange(-r, r + 1, dtype=x.dtype) ** 2 / (2 * sigma ** 2))
    k = k / k.sum()
    c = x.shape[1]
    pad = nn.functional.pad(x, (r, r, r, r), mode="reflect" if min(x.shape[2:]) > r else "replicate")
    y = nn.functional.conv2d(pad, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return nn.functional.conv2d(y, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def dream(run: Explained, obj: Objective, reg: Regularizers | None = None, steps: int = 200, lr: float = 0.1,
          seed: int = 0, start: torch.Tensor | None = None) -> torch.Tensor:
    """The synthesized input (1, C, H, W), normalized like the run's inputs; from ``start`` (1, C, H, W) when
    given (deep-dream style), else from the mean image slightly perturbed."""
    reg = reg or Regularizers()
    check_objective(run, obj)
    model, p = run.model.eval(), run.preprocess
    jitter = min(p.height, p.width) // 16 if reg.jitter is None else reg.jitter
    lo, hi = run.pixel_range()  # (1, C, 1, 1) each
    g = torch.Generator().manual_seed(seed)
    x = 0.01 * torch.randn(1, p.channels, p.height, p.width, generator=g) if start is None else start.detach().clone()
    for step in range(steps):
        dy, dx = torch.randint(-jitter, jitter + 1, (2,), generator=g).tolist() if jitter else (0, 0)
        xj = torch.roll(x, (dy, dx), dims=(2, 3)).requires_grad_(True)
        objective = _score(model, xj, obj) - reg.l2 * xj.pow(2).sum()
        grad, = torch.autograd.grad(objective, xj)
        grad = torch.roll(grad, (-dy, -dx), dims=(2, 3))
        x = x + lr * grad / grad.abs().mean().clamp_min(1e-12)  # normalized ascent step
        if reg.blur_sigma > 0 and (step + 1) % reg.blur_every == 0:
            x = gaussian_blur(x, reg.blur_sigma)
        if reg.clip:
            x = torch.maximum(torch.minimum(x, hi), lo)
    return x.detach()


def class_probability(model: nn.Module, x: torch.Tensor, cls: int) -> float:
    """The model's softmax probability of ``cls`` for input (1, C, H, W)."""
    with torch.no_grad():
        return float(model(x).softmax(1)[0, cls])


def dream_png(run: Explained, x: torch.Tensor, obj: Objective, out: str | Path, what: str | None = None) -> Path:
    """The synthesized image, titled with what it maximizes and the model's reading of it (or ``what``)."""
    from nnlab.explain.features import mosaic_png

    img = torch.from_numpy(run.to_pixels(x)[0]).permute(2, 0, 1) / 255  # (C, H, W) in [0, 1]
    if what is None and obj.cls is not None:
        what = f"class {run.classes[obj.cls]}: p={class_probability(run.model, x, obj.cls):.3f}"
    elif what is None:
        what = f"{obj.layer} unit {obj.unit}"
    return mosaic_png([img], out, f"{run.name}: {what}", cols=1)
