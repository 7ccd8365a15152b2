"""Explicit weight penalties added to the loss (notes: L1 / L2 regularization).

L2: ``lambda * sum(w^2)`` (gradient ``2 * lambda * w``); L1: ``lambda * sum(|w|)`` (gradient
``lambda * sign(w)``, which drives small weights to exactly zero). Applied to weights only by default:
biases and normalization parameters (1-D tensors) only shift or scale activations and are left alone.
Decoupled weight decay (``optim.weight_decay``) is the optimizer's business, not a loss term.
"""
from __future__ import annotations

import torch
from torch import nn


def penalized_parameters(model: nn.Module, include_bias: bool = False) -> list[nn.Parameter]:
    """Weights of conv / linear layers (tensors with 2+ dims); with ``include_bias`` every parameter."""
    return [p for p in model.parameters() if p.requires_grad and (include_bias or p.ndim > 1)]


def l1_penalty(params: list[nn.Parameter]) -> torch.Tensor:
    """sum over all entries of |w|."""
    return torch.stack([p.abs().sum() for p in params]).sum()


def l2_penalty(params: list[nn.Parameter]) -> torch.Tensor:
    """sum over all entries of w^2 (no 1/2 factor: the gradient is 2 * lambda * w)."""
    return torch.stack([p.pow(2).sum() for p in params]).sum()


class Penalty:
    """``l1 * sum|w| + l2 * sum w^2`` over the penalized parameters of a model."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0, include_bias: bool = False) -> None:
        self.l1, self.l2, self.include_bias = l1, l2, include_bias

    def __bool__(self) -> bool:
        return self.l1 > 0 or self.l2 > 0

    def __call__(self, model: nn.Module) -> torch.Tensor:
        params = penalized_parameters(model, self.include_bias)
        total = torch.zeros((), device=params[0].device if params else None)
        if self.l1 > 0:
            total = total + self.l1 * l1_penalty(params)
        if self.l2 > 0:
            total = total + self.l2 * l2_penalty(params)
        return total
