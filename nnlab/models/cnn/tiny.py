"""The tiny CPU network as a classifier: the detection default backbone's stages (``stages.0`` .. ``stages.4``:
stride-2 3x3 conv-BN-ReLU, then 3x3 conv-BN-ReLU, widths w, 2w, 4w, 8w, 8w) + global average pooling + a linear
head. The state-dict keys of ``stages`` are those of ``TinyBackbone``, so a classifier trained here (e.g. on
``nnlab data crops`` of a box dataset) is the pretraining of a detector's ``backbone: tiny``
(``model.backbone_weights: RUN``): transfer learning without downloaded ImageNet weights.
"""
from __future__ import annotations

from typing import Iterator

import torch
from torch import nn

from nnlab.errors import ConfigError
from nnlab.models.cnn.base import Classifier
from nnlab.models.layers import ConvNormAct, check_options, init_weights
from nnlab.models.registry import MODELS

MAX_DEPTH = 5


def tiny_stages(in_chans: int, width: int = 16, depth: int = MAX_DEPTH, norm: str = "batch",
                activation: str = "relu") -> nn.ModuleList:
    """``depth`` stride-2 stages of widths w, 2w, 4w, 8w, 8w: stage i maps (B, c, H, W) -> (B, w_i, H/2, W/2)."""
    if not 1 <= depth <= MAX_DEPTH:
        raise ConfigError(f"the tiny network has 1 to {MAX_DEPTH} stages, got depth {depth}")
    widths = [width, 2 * width, 4 * width, 8 * width, 8 * width][:depth]
    stages, c = nn.ModuleList(), in_chans
    for w in widths:
        stages.append(nn.Sequential(ConvNormAct(c, w, 3, 2, norm=norm, act=activation),
                                    ConvNormAct(w, w, 3, norm=norm, act=activation)))
        c = w
    return stages


class TinyNet(Classifier):
    head_path = "fc"

    def __init__(self, num_classes: int, in_chans: int, width: int = 16, depth: int = MAX_DEPTH,
                 norm: str = "batch", activation: str = "relu", dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout, self.norm = dropout, norm  # the options, read by the regularization tools
        self.stages = tiny_stages(in_chans, width, depth, norm, activation)
        self.tap_names = tuple(f"stages.{i}" for i in range(depth))
        self.num_features = self.stages[-1][-1][0].out_channels
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(self.num_features, num_classes)

    def feature_layers(self) -> Iterator[tuple[str, nn.Module]]:
        for i, stage in enumerate(self.stages):
            yield f"stages.{i}", stage

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.drop(x.mean(dim=(2, 3)))  # (B, C, h, w) -> (B, C)
        return x if pre_logits else self.fc(x)


@MODELS.register("tiny")
def tiny(num_classes: int, in_chans: int, input_size: tuple[int, int], width: int = 16, depth: int = MAX_DEPTH,
         activation: str = "relu", norm: str = "batch", dropout: float = 0.0, init: str = "default") -> TinyNet:
    """The detection default backbone (``backbone: tiny``, same ``width`` / ``depth``) with a classifier head."""
    check_options(activation, norm, init)
    if width < 1:
        raise ConfigError(f"config key 'model.width' must be >= 1, got {width}")
    model = TinyNet(num_classes, in_chans, width, depth, norm, activation, dropout)
    init_weights(model, init, activation)
    return model
