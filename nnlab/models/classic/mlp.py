"""Multi-layer perceptron: Linear -> [norm] -> activation -> dropout, repeated, then a linear head."""
from __future__ import annotations

import torch
from torch import nn

from nnlab.errors import ConfigError
from nnlab.models.layers import INITS, activation as make_activation, check_choice, init_weights, norm1d
from nnlab.models.registry import MODELS


class MLP(nn.Module):
    head_path = "head"  # the final Linear: model.reset_head keeps it fresh when loading other weights

    def __init__(self, in_features: int, num_classes: int, hidden: list[int], activation: str,
                 dropout: float, init: str = "default", norm: str = "none") -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if norm != "none":
                layers.append(norm1d(norm, h))
            layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width, num_classes)
        init_weights(self, init, activation)  # notes: Weight Initialization (gaussian / xavier / he)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x.flatten(1)))  # (B, C*H*W) -> (B, K)


@MODELS.register("mlp")
def mlp(num_classes: int, in_chans: int, input_size: tuple[int, int], hidden: list[int] | None = None,
        activation: str = "relu", dropout: float = 0.0, init: str = "default", norm: str = "none") -> MLP:
    hidden = [256, 128] if hidden is None else list(hidden)
    if any(not isinstance(h, int) or h < 1 for h in hidden):
        raise ConfigError(f"config key 'model.hidden' must be a list of positive widths, got {hidden}")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError("config key 'model.dropout' must be in [0, 1)")
    check_choice("init", init, INITS)
    norm1d(norm, 1)  # validates the name before building
    return MLP(in_chans * input_size[0] * input_size[1], num_classes, hidden, activation, dropout, init, norm)
