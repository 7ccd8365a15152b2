"""Noise robustness (notes: noise on the inputs or on the weights, Bishop 1995 / Graves 2011).

Weight noise perturbs the weights for the training forward pass only: the model is called through
``torch.func.functional_call`` with ``w + eps`` in place of ``w``, so the stored weights are never touched
(no restore needed) and the gradient flows to ``w`` evaluated at the noisy point.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from nnlab.regularize.penalties import penalized_parameters


def add_noise(x: torch.Tensor, std: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """x + N(0, std^2), elementwise."""
    if std <= 0:
        return x
    return x + std * torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)


def noisy_forward(model: nn.Module, x: torch.Tensor, weight_std: float,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """``model(x)`` with Gaussian noise of ``weight_std`` added to every weight (not biases / norms)."""
    if weight_std <= 0:
        return model(x)
    ids = {id(p) for p in penalized_parameters(model)}
    noisy = {name: add_noise(p, weight_std, generator) for name, p in model.named_parameters() if id(p) in ids}
    return functional_call(model, noisy, (x,), strict=False)
