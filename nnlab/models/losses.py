"""Loss functions by name. Every loss takes logits (B, K) and targets as class ids (B,) or
probabilities (B, K), so soft targets (label smoothing, mixup, CutMix) work everywhere."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nnlab.registry import Registry

LOSSES: Registry[nn.Module] = Registry("loss")


@LOSSES.register("cross_entropy")
class CrossEntropy(nn.Module):
    """Softmax cross-entropy, -sum_k t_k log softmax(s)_k."""

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.label_smoothing = label_smoothing

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), target, label_smoothing=self.label_smoothing)


@LOSSES.register("hinge")
class MulticlassHinge(nn.Module):
    """Multiclass SVM loss (CS231n): L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + margin).

    With soft targets the loss is the target-weighted sum over each class taken as the correct one.
    """

    def __init__(self, margin: float = 1.0) -> None:
        super().__init__()
        self.margin = margin

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        s = logits.float()  # (B, K)
        if target.ndim == 1:
            correct = s.gather(1, target[:, None])  # (B, 1)
            margins = (s - correct + self.margin).clamp_min(0)
            margins = margins.scatter(1, target[:, None], 0.0)
            return margins.sum(1).mean()
        # (B, K, K): row y = margins if class y were correct
        margins = (s[:, None, :] - s[:, :, None] + self.margin).clamp_min(0)
        margins = margins * (1 - torch.eye(s.shape[1], device=s.device))
        return (target * margins.sum(2)).sum(1).mean()
