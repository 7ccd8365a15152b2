"""Linear classifiers y = Wx + b: softmax (cross-entropy) and multiclass SVM (hinge), CS231n lecture 2-3."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nnlab.errors import ConfigError
from nnlab.models.registry import MODELS


class LinearClassifier(nn.Module):
    def __init__(self, num_classes: int, in_features: int, loss: str, loss_options: dict[str, Any]) -> None:
        super().__init__()
        self.fc = nn.Linear(in_features, num_classes)
        self.default_loss = (loss, loss_options)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))  # (B, C*H*W) -> (B, K)


@MODELS.register("softmax")
def softmax(num_classes: int, in_chans: int, input_size: tuple[int, int]) -> LinearClassifier:
    """Linear scores trained with softmax cross-entropy."""
    return LinearClassifier(num_classes, in_chans * input_size[0] * input_size[1], "cross_entropy", {})


@MODELS.register("svm")
def svm(num_classes: int, in_chans: int, input_size: tuple[int, int], margin: float = 1.0) -> LinearClassifier:
    """Linear scores trained with the multiclass hinge loss (margin ``margin``)."""
    if margin <= 0:
        raise ConfigError("config key 'model.margin' must be positive")
    return LinearClassifier(num_classes, in_chans * input_size[0] * input_size[1], "hinge", {"margin": margin})
