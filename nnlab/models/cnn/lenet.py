"""LeNet-5 (LeCun et al., 1998): conv5(6) -> pool -> conv5(16) -> pool -> fc120 -> fc84 -> classes.

The paper used tanh and average-pool subsampling (``activation: tanh, pool: avg``); the default is the
modern ReLU / max-pool form. Inputs smaller than 32x32 (MNIST's 28x28) are padded by 2 in conv1.
"""
from __future__ import annotations

import torch
from torch import nn

from nnlab.errors import ConfigError
from nnlab.models.layers import activation as make_activation
from nnlab.models.registry import MODELS


class LeNet5(nn.Module):
    def __init__(self, num_classes: int, in_chans: int, input_size: tuple[int, int], activation: str = "relu",
                 pool: str = "max", dropout: float = 0.0) -> None:
        super().__init__()
        h, w = input_size
        pad = 2 if min(h, w) < 32 else 0
        Pool = nn.MaxPool2d if pool == "max" else nn.AvgPool2d
        self.features = nn.Sequential(
            nn.Conv2d(in_chans, 6, 5, padding=pad), make_activation(activation), Pool(2),  # (B, 6, 14, 14)
            nn.Conv2d(6, 16, 5), make_activation(activation), Pool(2),  # (B, 16, 5, 5)
        )
        fh, fw = (h + 2 * pad - 4) // 2, (w + 2 * pad - 4) // 2
        fh, fw = (fh - 4) // 2, (fw - 4) // 2
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * fh * fw, 120), make_activation(activation), nn.Dropout(dropout),
            nn.Linear(120, 84), make_activation(activation), nn.Dropout(dropout), nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))  # (B, C, H, W) -> (B, K)


@MODELS.register("lenet5")
def lenet5(num_classes: int, in_chans: int, input_size: tuple[int, int], activation: str = "relu",
           pool: str = "max", dropout: float = 0.0) -> LeNet5:
    if min(input_size) < 28:
        raise ConfigError(f"lenet5 needs inputs of at least 28x28, got {input_size[0]}x{input_size[1]}")
    if pool not in ("max", "avg"):
        raise ConfigError("config key 'model.pool' must be 'max' or 'avg'")
    return LeNet5(num_classes, in_chans, input_size, activation, pool, dropout)
