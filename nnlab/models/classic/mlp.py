"""Multi-layer perceptron: Linear -> activation -> dropout, repeated, then a linear head."""
from __future__ import annotations

import torch
from torch import nn

from nnlab.errors import ConfigError
from nnlab.models.layers import activation as make_activation
from nnlab.models.registry import MODELS


INITS = ("default", "gaussian", "xavier", "he")


def init_linear(layer: nn.Linear, scheme: str) -> None:
    """Weight initialization by name (notes: Weight Initialization): ``gaussian`` N(0, 0.01^2) — fine for
    shallow nets, vanishing in deep ones; ``xavier`` (Glorot & Bengio 2010) keeps the variance through
    layers; ``he`` (He et al. 2015) doubles it for ReLU, which zeroes half the inputs. Biases start at 0."""
    if scheme == "default":  # PyTorch's own (Kaiming-uniform with a = sqrt(5))
        return
    if scheme == "gaussian":
        nn.init.normal_(layer.weight, std=0.01)
    elif scheme == "xavier":
        nn.init.xavier_normal_(layer.weight)
    else:
        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    nn.init.zeros_(layer.bias)


class MLP(nn.Module):
    def __init__(self, in_features: int, num_classes: int, hidden: list[int], activation: str,
                 dropout: float, init: str = "default") -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), make_activation(activation)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                init_linear(m, init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x.flatten(1)))  # (B, C*H*W) -> (B, K)


@MODELS.register("mlp")
def mlp(num_classes: int, in_chans: int, input_size: tuple[int, int], hidden: list[int] | None = None,
        activation: str = "relu", dropout: float = 0.0, init: str = "default") -> MLP:
    hidden = [256, 128] if hidden is None else list(hidden)
    if any(not isinstance(h, int) or h < 1 for h in hidden):
        raise ConfigError(f"config key 'model.hidden' must be a list of positive widths, got {hidden}")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError("config key 'model.dropout' must be in [0, 1)")
    if init not in INITS:
        raise ConfigError(f"config key 'model.init' got {init!r}, expected one of {', '.join(INITS)}")
    return MLP(in_chans * input_size[0] * input_size[1], num_classes, hidden, activation, dropout, init)
