"""GoogLeNet / Inception v1 (Szegedy et al., 2015) per the paper's table 1: inception blocks of parallel
1x1, 1x1->3x3, 1x1->5x5 and pool->1x1 branches (the 1x1 convs are bottlenecks), no batch norm by default
(``norm: batch`` adds it), ~6.8M parameters without the auxiliary classifiers.

``aux: true`` adds the two auxiliary classifiers (on 4a and 4d); they run only in training, and their
logits come back from ``forward`` in training as ``AuxLogits`` (the classification task adds their losses,
weight 0.3 as in the paper). Small-input form: a 3x3/1 stem conv to 192 maps, max-pools only after 3b and 4e.
"""
from __future__ import annotations

from typing import Iterator

import torch
from torch import nn

from nnlab.models.cnn.base import AuxLogits, Classifier, pick_form
from nnlab.models.layers import ConvNormAct, activation as make_act, check_min_size, check_options, init_weights
from nnlab.models.registry import MODELS

# name: (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj)
BLOCKS = {
    "inception3a": (64, 96, 128, 16, 32, 32), "inception3b": (128, 128, 192, 32, 96, 64),
    "inception4a": (192, 96, 208, 16, 48, 64), "inception4b": (160, 112, 224, 24, 64, 64),
    "inception4c": (128, 128, 256, 24, 64, 64), "inception4d": (112, 144, 288, 32, 64, 64),
    "inception4e": (256, 160, 320, 32, 128, 128), "inception5a": (256, 160, 320, 32, 128, 128),
    "inception5b": (384, 192, 384, 48, 128, 128),
}
POOL_AFTER = ("inception3b", "inception4e")
AUX_AT = ("inception4a", "inception4d")


class Inception(nn.Module):
    def __init__(self, cin: int, spec: tuple[int, ...], norm: str, act: str) -> None:
        super().__init__()
        c1, r3, c3, r5, c5, pp = spec

        def conv(i: int, o: int, k: int) -> ConvNormAct:
            return ConvNormAct(i, o, k, norm=norm, act=act)

        self.branch1 = conv(cin, c1, 1)
        self.branch2 = nn.Sequential(conv(cin, r3, 1), conv(r3, c3, 3))  # 1x1 bottleneck, then 3x3
        self.branch3 = nn.Sequential(conv(cin, r5, 1), conv(r5, c5, 5))  # 1x1 bottleneck, then 5x5
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), conv(cin, pp, 1))
        self.out_channels = c1 + c3 + c5 + pp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)  # (B, C', H, W)


class AuxHead(nn.Module):
    """avg pool to 4x4 -> 1x1 conv 128 -> fc 1024 -> dropout 0.7 -> fc classes."""

    def __init__(self, cin: int, num_classes: int, norm: str, act: str) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.conv = ConvNormAct(cin, 128, 1, norm=norm, act=act)
        self.fc1, self.act = nn.Linear(128 * 16, 1024), make_act(act)
        self.drop, self.fc2 = nn.Dropout(0.7), nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(self.pool(x)).flatten(1)  # (B, 2048)
        return self.fc2(self.drop(self.act(self.fc1(x))))


class GoogLeNet(Classifier):
    tap_names = POOL_AFTER + ("inception5b",)
    aux_weight = 0.3

    def __init__(self, num_classes: int, in_chans: int, form: str, activation: str = "relu", norm: str = "none",
                 init: str = "default", aux: bool = False, dropout: float = 0.4) -> None:
        super().__init__()
        kw = {"norm": norm, "act": activation}
        if form == "imagenet":  # conv 7x7/2, pool, (LRN), 1x1 reduce, conv 3x3, (LRN), pool
            lrn = [nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0)] if norm == "none" else []
            self.stem = nn.Sequential(ConvNormAct(in_chans, 64, 7, 2, **kw), nn.MaxPool2d(3, 2, ceil_mode=True), *lrn,
                                      ConvNormAct(64, 64, 1, **kw), ConvNormAct(64, 192, 3, **kw), *lrn,
                                      nn.MaxPool2d(3, 2, ceil_mode=True))
        else:
            self.stem = ConvNormAct(in_chans, 192, 3, **kw)
        c = 192
        self.blocks = nn.ModuleDict()
        for name, spec in BLOCKS.items():
            self.blocks[name] = Inception(c, spec, norm, activation)
            c = self.blocks[name].out_channels
            if name in POOL_AFTER:
                self.blocks[f"pool_{name[-2:]}"] = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.aux = nn.ModuleDict({name: AuxHead(self.blocks[name].out_channels, num_classes, norm, activation)
                                  for name in AUX_AT}) if aux else None
        self.num_features = c
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(c, num_classes)
        init_weights(self, init, activation)

    def feature_layers(self) -> Iterator[tuple[str, nn.Module]]:
        yield "stem", self.stem
        yield from self.blocks.items()

    def forward(self, x: torch.Tensor) -> torch.Tensor | AuxLogits:
        """Logits (B, K); in training with ``aux``, also the auxiliary classifiers' logits (weight 0.3)."""
        aux: list[torch.Tensor] = []
        for name, layer in self.feature_layers():
            x = layer(x)
            if self.aux is not None and self.training and name in self.aux:
                aux.append(self.aux[name](x))  # (B, K) each, training only
        logits = self.forward_head(x)
        return AuxLogits(logits, aux, self.aux_weight) if aux else logits

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.dropout(x.mean((2, 3)))  # (B, 1024)
        return x if pre_logits else self.fc(x)


@MODELS.register("googlenet")
def googlenet(num_classes: int, in_chans: int, input_size: tuple[int, int], form: str = "auto",
              activation: str = "relu", norm: str = "none", init: str = "xavier", aux: bool = False,
              dropout: float = 0.4) -> GoogLeNet:
    """Inception v1; Xavier init by default (without BN, PyTorch's default init trains it poorly)."""
    check_options(activation, norm, init)
    form = pick_form(form, input_size)
    check_min_size("googlenet", input_size, 32 if form == "imagenet" else 8, form)
    return GoogLeNet(num_classes, in_chans, form, activation, norm, init, aux, dropout)
