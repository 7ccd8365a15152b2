"""LeNet-5 (LeCun et al., 1998): conv5(6) -> pool -> conv5(16) -> pool -> fc120 -> fc84 -> classes.

The paper used tanh and average-pool subsampling (``activation: tanh, pool: avg``); the default is the
modern ReLU / max-pool form. Inputs smaller than 32x32 (MNIST's 28x28) are padded by 2 in conv1.
``norm: batch`` gives conv -> BN -> act (without a norm the layer indices are those of earlier runs).
"""
from __future__ import annotations

from typing import Iterator

import torch
from torch import nn

from nnlab.errors import ConfigError
from nnlab.models.cnn.base import Classifier
from nnlab.models.layers import activation as make_activation, check_options, init_weights, norm2d
from nnlab.models.registry import MODELS


class LeNet5(Classifier):
    head_path = "classifier.7"
    tap_names = ("2", "5")

    def __init__(self, num_classes: int, in_chans: int, input_size: tuple[int, int], activation: str = "relu",
                 pool: str = "max", dropout: float = 0.0, norm: str = "none", init: str = "default") -> None:
        super().__init__()
        self.dropout, self.norm = dropout, norm  # the options, read by the regularization tools
        h, w = input_size
        pad = 2 if min(h, w) < 32 else 0
        Pool = nn.MaxPool2d if pool == "max" else nn.AvgPool2d

        def conv(cin: int, cout: int, padding: int) -> list[nn.Module]:
            bn = [] if norm == "none" else [norm2d(norm, cout)]
            return [nn.Conv2d(cin, cout, 5, padding=padding), *bn, make_activation(activation), Pool(2)]

        self.features = nn.Sequential(*conv(in_chans, 6, pad), *conv(6, 16, 0))  # (B, 16, 5, 5)
        self.tap_names = tuple(str(i) for i, m in enumerate(self.features) if isinstance(m, Pool))
        self.num_features = 16
        fh, fw = (h + 2 * pad - 4) // 2, (w + 2 * pad - 4) // 2
        fh, fw = (fh - 4) // 2, (fw - 4) // 2
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * fh * fw, 120), make_activation(activation), nn.Dropout(dropout),
            nn.Linear(120, 84), make_activation(activation), nn.Dropout(dropout), nn.Linear(84, num_classes),
        )
        init_weights(self, init, activation)

    def feature_layers(self) -> Iterator[tuple[str, nn.Module]]:
        yield from self.features.named_children()

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.classifier[:-1](x)  # (B, 84)
        return x if pre_logits else self.classifier[-1](x)


@MODELS.register("lenet5")
def lenet5(num_classes: int, in_chans: int, input_size: tuple[int, int], activation: str = "relu",
           pool: str = "max", dropout: float = 0.0, norm: str = "none", init: str = "default") -> LeNet5:
    check_options(activation, norm, init)
    if min(input_size) < 28:
        raise ConfigError(f"lenet5 needs inputs of at least 28x28, got {input_size[0]}x{input_size[1]}")
    if pool not in ("max", "avg"):
        raise ConfigError("config key 'model.pool' must be 'max' or 'avg'")
    return LeNet5(num_classes, in_chans, input_size, activation, pool, dropout, norm, init)
