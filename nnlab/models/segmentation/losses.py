"""Segmentation losses by name (``SEG_LOSSES``) and their weighted sum.

- ``cross_entropy``: per-pixel softmax cross-entropy with class weights and an ignore index (FCN, SegNet, U-Net).
- ``dice``: 1 - soft Dice per class, averaged (Milletari et al., V-Net 2016): insensitive to class imbalance
  because each class counts once, however few its pixels.
- ``focal``: cross-entropy scaled by (1 - p_t)^gamma (Lin et al., ICCV 2017): easy pixels fade out.
``build_segmentation_loss("cross_entropy+dice")`` or ``({"cross_entropy": 1.0, "dice": 0.5})`` sums them.
All take logits (B, K, H, W) and targets (B, H, W) of class ids with ``ignore_index`` (255) for unlabelled pixels.
"""
from __future__ import annotations

import inspect
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nnlab.errors import ConfigError
from nnlab.metrics.segmentation import IGNORE_INDEX
from nnlab.registry import Registry

SEG_LOSSES: Registry[nn.Module] = Registry("segmentation loss")


class PixelLoss(nn.Module):
    """Base: optional class weights (a non-persistent buffer, so it follows the device) and the ignore index."""

    def __init__(self, class_weights: Sequence[float] | None = None, ignore_index: int = IGNORE_INDEX) -> None:
        super().__init__()
        weight = None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
        self.register_buffer("weight", weight, persistent=False)
        self.ignore_index = ignore_index


@SEG_LOSSES.register("cross_entropy")
class CrossEntropy(PixelLoss):
    """Mean per-pixel cross-entropy, weighted by the target's class weight (PyTorch's normalisation)."""

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, target.long(), weight=self.weight, ignore_index=self.ignore_index)


@SEG_LOSSES.register("focal")
class FocalLoss(PixelLoss):
    """Softmax focal loss: -w_t (1 - p_t)^gamma log p_t, normalised like weighted cross-entropy (gamma=0 is CE)."""

    def __init__(self, class_weights: Sequence[float] | None = None, ignore_index: int = IGNORE_INDEX,
                 gamma: float = 2.0) -> None:
        super().__init__(class_weights, ignore_index)
        self.gamma = gamma

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        valid = target != self.ignore_index  # (B, H, W)
        t = torch.where(valid, target, 0).long()
        logp_t = F.log_softmax(logits.float(), 1).gather(1, t[:, None])[:, 0]  # (B, H, W)
        w = self.weight[t] if self.weight is not None else torch.ones_like(logp_t)
        w = w * valid
        loss = -w * (1 - logp_t.exp()).pow(self.gamma) * logp_t
        return loss.sum() / w.sum().clamp_min(1e-12)


@SEG_LOSSES.register("dice")
class DiceLoss(PixelLoss):
    """1 - mean over classes of (2 |P ∩ Y| + s) / (|P| + |Y| + s) with soft P = softmax, over the whole batch;
    ``class_weights`` weight the classes in the mean, ``smooth`` (s) keeps absent classes at loss 0."""

    def __init__(self, class_weights: Sequence[float] | None = None, ignore_index: int = IGNORE_INDEX,
                 smooth: float = 1.0) -> None:
        super().__init__(class_weights, ignore_index)
        self.smooth = smooth

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        k = logits.shape[1]
        valid = (target != self.ignore_index)[:, None]  # (B, 1, H, W)
        probs = F.softmax(logits.float(), 1) * valid  # (B, K, H, W)
        onehot = F.one_hot(torch.where(valid[:, 0], target, 0).long(), k).permute(0, 3, 1, 2) * valid
        inter = (probs * onehot).sum((0, 2, 3))  # (K,)
        total = probs.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
        dice = (2 * inter + self.smooth) / (total + self.smooth).clamp_min(1e-12)  # (K,)
        w = self.weight if self.weight is not None else torch.ones_like(dice)
        return 1 - (w * dice).sum() / w.sum()


class WeightedSum(nn.Module):
    """sum_i weight_i * loss_i(logits, target); ``parts`` gives each term (for logging)."""

    def __init__(self, terms: Mapping[str, nn.Module], weights: Mapping[str, float]) -> None:
        super().__init__()
        self.terms = nn.ModuleDict(terms)
        self.weights = dict(weights)

    def parts(self, logits: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: term(logits, target) for name, term in self.terms.items()}

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return sum(self.weights[n] * v for n, v in self.parts(logits, target).items())


def build_segmentation_loss(spec: str | Mapping[str, float], *, class_weights: Sequence[float] | None = None,
                            ignore_index: int = IGNORE_INDEX, gamma: float = 2.0, smooth: float = 1.0) -> nn.Module:
    """One loss by name (``"dice"``), or a weighted sum: ``"cross_entropy+dice"`` (weights 1) or a mapping
    name -> weight. Each term takes the options it knows (class_weights and ignore_index all; gamma focal;
    smooth dice)."""
    weights = {n.strip(): 1.0 for n in spec.split("+")} if isinstance(spec, str) else dict(spec)
    if not weights:
        raise ConfigError("the segmentation loss needs at least one term")
    options = {"class_weights": class_weights, "ignore_index": ignore_index, "gamma": gamma, "smooth": smooth}
    terms = {}
    for name in weights:
        accepted = inspect.signature(SEG_LOSSES.get(name)).parameters
        terms[name] = SEG_LOSSES.build(name, **{k: v for k, v in options.items() if k in accepted})
    return terms[next(iter(terms))] if len(terms) == 1 and isinstance(spec, str) else WeightedSum(terms, weights)
