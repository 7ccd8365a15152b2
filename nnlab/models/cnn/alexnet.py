"""AlexNet (Krizhevsky et al., 2012) per the paper: 96-256-384-384-256 filters (conv2, 4, 5 split in two
groups, as on the paper's two GPUs), ReLU, local response normalization after conv1 and conv2, overlapping
3x3/2 max pooling, and dropout 0.5 in the 4096-4096 classifier (~61M parameters at 224x224).

Small-input form (28x28, 32x32): a 5x5/1 first conv instead of 11x11/4, 2x2 pooled maps and a 1024-wide
classifier. ``norm`` adds a normalization layer after every conv (the LRN stays unless ``lrn: false``).
"""
from __future__ import annotations

from typing import Iterator

import torch
from torch import nn

from nnlab.models.cnn.base import Classifier, pick_form
from nnlab.models.layers import activation as make_act, check_min_size, check_options, init_weights, norm2d
from nnlab.models.registry import MODELS


class AlexNet(Classifier):
    head_path = "classifier.6"
    tap_names = ("pool1", "pool2", "pool5")

    def __init__(self, num_classes: int, in_chans: int, form: str, activation: str = "relu", norm: str = "none",
                 init: str = "default", dropout: float = 0.5, groups: int = 2, lrn: bool = True) -> None:
        super().__init__()
        big = form == "imagenet"
        spec = [  # name, out channels, kernel, stride, padding, groups
            ("conv1", 96, 11 if big else 5, 4 if big else 1, 2, 1), ("conv2", 256, 5, 1, 2, groups),
            ("conv3", 384, 3, 1, 1, 1), ("conv4", 384, 3, 1, 1, groups), ("conv5", 256, 3, 1, 1, groups)]
        c = in_chans
        self.features = nn.Sequential()
        for name, out, k, s, p, g in spec:
            self.features.add_module(name, nn.Conv2d(c, out, k, s, p, groups=g))
            if norm != "none":
                self.features.add_module(f"norm{name[-1]}", norm2d(norm, out))
            self.features.add_module(f"act{name[-1]}", make_act(activation))
            if name in ("conv1", "conv2") and lrn:  # the paper's k=2, n=5, alpha=1e-4, beta=0.75
                self.features.add_module(f"lrn{name[-1]}", nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0))
            if name in ("conv1", "conv2", "conv5"):
                self.features.add_module(f"pool{name[-1]}", nn.MaxPool2d(3, 2))  # overlapping
            c = out
        self.num_features = c
        side, hidden = (6, 4096) if big else (2, 1024)
        self.avgpool = nn.AdaptiveAvgPool2d(side)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(c * side * side, hidden), make_act(activation),
            nn.Dropout(dropout), nn.Linear(hidden, hidden), make_act(activation), nn.Linear(hidden, num_classes))
        init_weights(self, init, activation)

    def feature_layers(self) -> Iterator[tuple[str, nn.Module]]:
        yield from self.features.named_children()

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.classifier[:-1](self.avgpool(x).flatten(1))  # (B, hidden)
        return x if pre_logits else self.classifier[-1](x)


@MODELS.register("alexnet")
def alexnet(num_classes: int, in_chans: int, input_size: tuple[int, int], form: str = "auto",
            activation: str = "relu", norm: str = "none", init: str = "default", dropout: float = 0.5,
            groups: int = 2, lrn: bool = True) -> AlexNet:
    """AlexNet as in the paper (``groups: 1`` for the single-GPU variant)."""
    check_options(activation, norm, init)
    form = pick_form(form, input_size)
    check_min_size("alexnet", input_size, 63 if form == "imagenet" else 16, form)
    return AlexNet(num_classes, in_chans, form, activation, norm, init, dropout, groups, lrn)
