"""Soft-target regularizers: label smoothing, mixup and CutMix.

- Label smoothing (Szegedy et al. 2016): target ``(1 - eps) * onehot + eps / K``.
- mixup (Zhang et al. 2018, arXiv:1710.09412): ``x = lam * x_i + (1 - lam) * x_j``, same for the targets,
  ``lam ~ Beta(alpha, alpha)`` drawn per sample.
- CutMix (Yun et al. 2019, arXiv:1905.04899): a box of area ``(1 - lam)`` of image j pasted into image i;
  after the box is clipped to the image the label weight is the box's *actual* area fraction.
Partners j are a random permutation of the batch. The loss takes the soft targets (nnlab/models/losses.py).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

MIXABLE_TASKS = ("classify",)  # tasks whose targets are class distributions, so they can be mixed


def one_hot(y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Class ids (B,) -> float (B, K); soft targets (B, K) pass through."""
    return y.float() if y.ndim == 2 else F.one_hot(y.long(), num_classes).float()


def smooth_labels(y: torch.Tensor, num_classes: int, eps: float) -> torch.Tensor:
    """(1 - eps) * target + eps / K, as ``F.cross_entropy(label_smoothing=eps)`` does internally."""
    return one_hot(y, num_classes) * (1 - eps) + eps / num_classes


def _beta(alpha: float, n: int, generator: torch.Generator | None) -> torch.Tensor:
    """n draws of Beta(alpha, alpha); torch's gamma sampler takes no generator, so with one a forked
    global RNG is seeded from it (reproducible, and the global stream is left alone)."""
    dist = torch.distributions.Beta(torch.tensor(float(alpha)), torch.tensor(float(alpha)))
    if generator is None:
        return dist.sample((n,))
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return dist.sample((n,))


def mixup(x: torch.Tensor, y: torch.Tensor, alpha: float, generator: torch.Generator | None = None
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Convex combinations of each sample with a random partner; ``y`` is soft (B, K)."""
    b = x.shape[0]
    lam = _beta(alpha, b, generator).to(x.device)  # (B,)
    perm = torch.randperm(b, generator=generator).to(x.device)
    lx = lam.view(-1, *([1] * (x.ndim - 1)))
    return lx * x + (1 - lx) * x[perm], lam[:, None] * y + (1 - lam[:, None]) * y[perm]


def clipped_boxes(cy: torch.Tensor, cx: torch.Tensor, h: torch.Tensor, w: torch.Tensor, height: int,
                  width: int) -> torch.Tensor:
    """Integer boxes (B, 4) = (top, left, bottom, right), centred at (cy, cx), clipped to the image."""
    top = (cy - h / 2).round().clamp(0, height)
    bottom = (cy + h / 2).round().clamp(0, height)
    left = (cx - w / 2).round().clamp(0, width)
    right = (cx + w / 2).round().clamp(0, width)
    return torch.stack([top, left, bottom, right], 1).long()


def box_mask(boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, 1, H, W) bool, True inside each sample's box (bottom / right exclusive)."""
    rows = torch.arange(height, device=boxes.device).view(1, -1, 1)
    cols = torch.arange(width, device=boxes.device).view(1, 1, -1)
    t, l, b, r = (boxes[:, i].view(-1, 1, 1) for i in range(4))
    return ((rows >= t) & (rows < b) & (cols >= l) & (cols < r))[:, None]


def cutmix(x: torch.Tensor, y: torch.Tensor, alpha: float, generator: torch.Generator | None = None
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Paste a random box of a partner image into each image; label weight = pasted area fraction."""
    b, _, height, width = x.shape  # (B, C, H, W)
    lam = _beta(alpha, b, generator)
    side = (1 - lam).sqrt()
    cy, cx = torch.rand(b, generator=generator) * height, torch.rand(b, generator=generator) * width
    boxes = clipped_boxes(cy, cx, side * height, side * width, height, width).to(x.device)
    mask = box_mask(boxes, height, width)  # (B, 1, H, W)
    perm = torch.randperm(b, generator=generator).to(x.device)
    area = mask.float().mean(dim=(1, 2, 3))[:, None]  # (B, 1): the exact pasted fraction
    return torch.where(mask, x[perm], x), (1 - area) * y + area * y[perm]


class Mixer:
    """mixup and/or CutMix on a batch with probability ``prob``; when both are on, CutMix is picked with
    probability ``switch_prob`` (timm's convention)."""

    def __init__(self, mixup_alpha: float = 0.0, cutmix_alpha: float = 0.0, prob: float = 1.0,
                 switch_prob: float = 0.5, generator: torch.Generator | None = None) -> None:
        self.mixup_alpha, self.cutmix_alpha = mixup_alpha, cutmix_alpha
        self.prob, self.switch_prob, self.generator = prob, switch_prob, generator

    def __bool__(self) -> bool:
        return self.mixup_alpha > 0 or self.cutmix_alpha > 0

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u = torch.rand(2, generator=self.generator)
        if not self or u[0] >= self.prob:
            return x, y
        use_cutmix = self.cutmix_alpha > 0 and (self.mixup_alpha <= 0 or u[1] < self.switch_prob)
        if use_cutmix:
            return cutmix(x, y, self.cutmix_alpha, self.generator)
        return mixup(x, y, self.mixup_alpha, self.generator)
