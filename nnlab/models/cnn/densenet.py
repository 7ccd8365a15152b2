"""DenseNet (Huang et al., 2017): each layer sees the concatenation of all earlier maps in its block.

Dense layer = BN -> act -> 1x1 conv (bottleneck, 4k maps) -> BN -> act -> 3x3 conv (k = growth rate maps);
transition = BN -> act -> 1x1 conv (compression 0.5) -> 2x2 avg pool. Layer names are torchvision's.
Small-input form: a 3x3/1 stem conv and no stem pooling.
"""
from __future__ import annotations

from typing import Iterator

import torch
from torch import nn

from nnlab.models.cnn.base import Classifier, pick_form
from nnlab.models.layers import activation as make_act, check_min_size, check_options, init_weights, norm2d
from nnlab.models.registry import MODELS


class DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int, bn_size: int, norm: str, act: str) -> None:
        super().__init__()
        bias = norm == "none"
        self.norm1, self.relu1 = norm2d(norm, cin), make_act(act)
        self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=bias)
        self.norm2, self.relu2 = norm2d(norm, bn_size * growth), make_act(act)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(self.relu1(self.norm1(x)))  # (B, bn_size * k, H, W)
        return self.conv2(self.relu2(self.norm2(y)))  # (B, k, H, W)


class DenseBlock(nn.ModuleDict):
    def __init__(self, n: int, cin: int, growth: int, bn_size: int, norm: str, act: str) -> None:
        super().__init__({f"denselayer{i + 1}": DenseLayer(cin + i * growth, growth, bn_size, norm, act)
                          for i in range(n)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = [x]
        for layer in self.values():
            maps.append(layer(torch.cat(maps, 1)))
        return torch.cat(maps, 1)  # (B, cin + n * k, H, W)


class Transition(nn.Sequential):
    def __init__(self, cin: int, cout: int, norm: str, act: str) -> None:
        super().__init__()
        self.add_module("norm", norm2d(norm, cin))
        self.add_module("relu", make_act(act))
        self.add_module("conv", nn.Conv2d(cin, cout, 1, bias=norm == "none"))
        self.add_module("pool", nn.AvgPool2d(2, 2))


class DenseNet(Classifier):
    head_path = "classifier"

    def __init__(self, blocks: tuple[int, ...], num_classes: int, in_chans: int, form: str, growth: int = 32,
                 init_features: int = 64, bn_size: int = 4, compression: float = 0.5, activation: str = "relu",
                 norm: str = "batch", init: str = "default") -> None:
        super().__init__()
        bias = norm == "none"
        f = nn.Sequential()
        if form == "imagenet":
            f.add_module("conv0", nn.Conv2d(in_chans, init_features, 7, 2, 3, bias=bias))
        else:
            f.add_module("conv0", nn.Conv2d(in_chans, init_features, 3, 1, 1, bias=bias))
        f.add_module("norm0", norm2d(norm, init_features))
        f.add_module("relu0", make_act(activation))
        f.add_module("pool0", nn.MaxPool2d(3, 2, 1) if form == "imagenet" else nn.Identity())
        c = init_features
        taps = []
        for i, n in enumerate(blocks):
            f.add_module(f"denseblock{i + 1}", DenseBlock(n, c, growth, bn_size, norm, activation))
            c += n * growth
            if i != len(blocks) - 1:
                f.add_module(f"transition{i + 1}", Transition(c, int(c * compression), norm, activation))
                taps.append(f"transition{i + 1}")
                c = int(c * compression)
        f.add_module("norm5", norm2d(norm, c))
        self.features = f
        self.tap_names = (*taps, "norm5")
        self.num_features = c
        self.head_act = make_act(activation)
        self.classifier = nn.Linear(c, num_classes)
        if init != "default":
            init_weights(self, init, activation)
        else:  # torchvision's
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight)
                elif isinstance(m, nn.Linear):
                    nn.init.zeros_(m.bias)

    def feature_layers(self) -> Iterator[tuple[str, nn.Module]]:
        yield from self.features.named_children()

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.head_act(x).mean((2, 3))  # (B, num_features)
        return x if pre_logits else self.classifier(x)


BLOCKS = {121: (6, 12, 24, 16), 169: (6, 12, 32, 32), 201: (6, 12, 48, 32)}


def _densenet(depth: int, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str, growth: int,
              activation: str, norm: str, init: str) -> DenseNet:
    check_options(activation, norm, init)
    form = pick_form(form, input_size)
    check_min_size(f"densenet{depth}", input_size, 32 if form == "imagenet" else 8, form)
    return DenseNet(BLOCKS[depth], num_classes, in_chans, form, growth, 2 * growth, 4, 0.5, activation, norm, init)


@MODELS.register("densenet121")
def densenet121(*, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str = "auto",
                growth: int = 32, activation: str = "relu", norm: str = "batch", init: str = "default") -> DenseNet:
    """DenseNet-121 (blocks (6, 12, 24, 16): growth rate 32, BC: bottleneck + compression 0.5)."""
    return _densenet(121, num_classes, in_chans, input_size, form, growth, activation, norm, init)

@MODELS.register("densenet169")
def densenet169(*, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str = "auto",
                growth: int = 32, activation: str = "relu", norm: str = "batch", init: str = "default") -> DenseNet:
    """DenseNet-169 (blocks (6, 12, 32, 32): growth rate 32, BC: bottleneck + compression 0.5)."""
    return _densenet(169, num_classes, in_chans, input_size, form, growth, activation, norm, init)

@MODELS.register("densenet201")
def densenet201(*, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str = "auto",
                growth: int = 32, activation: str = "relu", norm: str = "batch", init: str = "default") -> DenseNet:
    """DenseNet-201 (blocks (6, 12, 48, 32): growth rate 32, BC: bottleneck + compression 0.5)."""
    return _densenet(201, num_classes, in_chans, input_size, form, growth, activation, norm, init)
