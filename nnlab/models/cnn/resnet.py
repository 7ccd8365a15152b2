"""ResNet (He et al., 2016, "Deep Residual Learning"): skip connections, projection shortcuts, bottlenecks.

``resnet18/34/50/101/152`` are the ImageNet networks with torchvision's layer names (so torchvision state
dicts load as they are); ``resnet20/32/44/56/110`` are the paper's CIFAR networks (6n+2 layers, 16-32-64
filters, option-A zero-padding shortcuts; ``shortcut: b`` for projections). The small-input form replaces
the 7x7/2 stem and its max-pool by one 3x3/1 conv (the CIFAR stem).
"""
from __future__ import annotations

from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from nnlab.errors import ConfigError
from nnlab.models.cnn.base import Classifier, pick_form
from nnlab.models.layers import activation as make_act, check_min_size, check_options, init_weights, norm2d
from nnlab.models.registry import MODELS


def conv3x3(cin: int, cout: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride, 1, bias=bias)


class PadShortcut(nn.Module):
    """Option A (CIFAR ResNets): subsample by the stride and zero-pad the new channels; no parameters."""

    def __init__(self, stride: int, extra: int) -> None:
        super().__init__()
        self.stride, self.extra = stride, extra

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))


class BasicBlock(nn.Module):
    """3x3 -> 3x3, plus the shortcut."""

    expansion = 1

    def __init__(self, cin: int, width: int, stride: int, downsample: nn.Module | None, norm: str, act: str) -> None:
        super().__init__()
        bias = norm == "none"
        self.conv1, self.bn1 = conv3x3(cin, width, stride, bias), norm2d(norm, width)
        self.conv2, self.bn2 = conv3x3(width, width, 1, bias), norm2d(norm, width)
        self.relu, self.downsample = make_act(act), downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class Bottleneck(nn.Module):
    """1x1 (reduce) -> 3x3 -> 1x1 (expand x4), plus the shortcut; stride on the 3x3 (torchvision's v1.5)."""

    expansion = 4

    def __init__(self, cin: int, width: int, stride: int, downsample: nn.Module | None, norm: str, act: str) -> None:
        super().__init__()
        bias = norm == "none"
        self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=bias), norm2d(norm, width)
        self.conv2, self.bn2 = conv3x3(width, width, stride, bias), norm2d(norm, width)
        self.conv3, self.bn3 = nn.Conv2d(width, width * 4, 1, bias=bias), norm2d(norm, width * 4)
        self.relu, self.downsample = make_act(act), downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


class ResNet(Classifier):
    tap_names = ("layer1", "layer2", "layer3", "layer4")

    def __init__(self, block: type[BasicBlock | Bottleneck], layers: list[int], widths: list[int], num_classes: int,
                 in_chans: int, form: str, shortcut: str = "b", activation: str = "relu", norm: str = "batch",
                 init: str = "default") -> None:
        super().__init__()
        stem = widths[0]
        if form == "imagenet":
            self.conv1 = nn.Conv2d(in_chans, stem, 7, 2, 3, bias=norm == "none")
            self.maxpool: nn.Module = nn.MaxPool2d(3, 2, 1)
        else:
            self.conv1 = conv3x3(in_chans, stem, 1, norm == "none")
            self.maxpool = nn.Identity()
        self.bn1, self.relu = norm2d(norm, stem), make_act(activation)
        self.inplanes = stem
        for i, (n, w) in enumerate(zip(layers, widths)):
            stage = self._make_layer(block, w, n, 1 if i == 0 else 2, shortcut, norm, activation)
            setattr(self, f"layer{i + 1}", stage)
        self.tap_names = tuple(f"layer{i + 1}" for i in range(len(layers)))
        self.num_features = self.inplanes
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(self.num_features, num_classes)
        self._reference_init(init, activation, norm)

    def _make_layer(self, block: type[BasicBlock | Bottleneck], width: int, n: int, stride: int, shortcut: str,
                    norm: str, act: str) -> nn.Sequential:
        out = width * block.expansion
        down: nn.Module | None = None
        if stride != 1 or self.inplanes != out:
            if shortcut == "a":
                down = PadShortcut(stride, out - self.inplanes)
            else:  # option B: 1x1 projection
                down = nn.Sequential(nn.Conv2d(self.inplanes, out, 1, stride, bias=norm == "none"), norm2d(norm, out))
        blocks = [block(self.inplanes, width, stride, down, norm, act)]
        self.inplanes = out
        blocks += [block(out, width, 1, None, norm, act) for _ in range(n - 1)]
        return nn.Sequential(*blocks)

    def _reference_init(self, init: str, activation: str, norm: str) -> None:
        if init != "default":
            init_weights(self, init, activation)
            return
        for m in self.modules():  # torchvision's: He (fan_out) for convs
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def feature_layers(self) -> Iterator[tuple[str, nn.Module]]:
        yield from [("conv1", self.conv1), ("bn1", self.bn1), ("relu", self.relu), ("maxpool", self.maxpool)]
        for name in self.tap_names:
            yield name, getattr(self, name)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.avgpool(x).flatten(1)  # (B, num_features)
        return x if pre_logits else self.fc(x)


IMAGENET = {18: (BasicBlock, [2, 2, 2, 2]), 34: (BasicBlock, [3, 4, 6, 3]), 50: (Bottleneck, [3, 4, 6, 3]),
            101: (Bottleneck, [3, 4, 23, 3]), 152: (Bottleneck, [3, 8, 36, 3])}
CIFAR_DEPTHS = (20, 32, 44, 56, 110)


def _check(name: str, input_size: tuple[int, int], form: str, shortcut: str, activation: str, norm: str,
           init: str) -> str:
    check_options(activation, norm, init)
    if shortcut not in ("a", "b"):
        raise ConfigError(f"config key 'model.shortcut' got {shortcut!r}, expected one of a, b")
    form = pick_form(form, input_size)
    check_min_size(name, input_size, 32 if form == "imagenet" else 8, form)
    return form


def _imagenet(depth: int, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str,
              activation: str, norm: str, init: str) -> ResNet:
    block, layers = IMAGENET[depth]
    form = _check(f"resnet{depth}", input_size, form, "b", activation, norm, init)
    return ResNet(block, layers, [64, 128, 256, 512], num_classes, in_chans, form, "b", activation, norm, init)


def _cifar(depth: int, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str, shortcut: str,
           activation: str, norm: str, init: str) -> ResNet:
    n = (depth - 2) // 6
    form = _check(f"resnet{depth}", input_size, form, shortcut, activation, norm, init)
    return ResNet(BasicBlock, [n, n, n], [16, 32, 64], num_classes, in_chans, form, shortcut, activation, norm, init)


@MODELS.register("resnet18")
def resnet18(*, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str = "auto",
             activation: str = "relu", norm: str = "batch", init: str = "default") -> ResNet:
    """ResNet-18 (BasicBlocks [2, 2, 2, 2]); torchvision layer names."""
    return _imagenet(18, num_classes, in_chans, input_size, form, activation, norm, init)

@MODELS.register("resnet34")
def resnet34(*, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str = "auto",
             activation: str = "relu", norm: str = "batch", init: str = "default") -> ResNet:
    """ResNet-34 (BasicBlocks [3, 4, 6, 3]); torchvision layer names."""
    return _imagenet(34, num_classes, in_chans, input_size, form, activation, norm, init)

@MODELS.register("resnet50")
def resnet50(*, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str = "auto",
             activation: str = "relu", norm: str = "batch", init: str = "default") -> ResNet:
    """ResNet-50 (Bottlenecks [3, 4, 6, 3]); torchvision layer names."""
    return _imagenet(50, num_classes, in_chans, input_size, form, activation, norm, init)

@MODELS.register("resnet101")
def resnet101(*, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str = "auto",
             activation: str = "relu", norm: str = "batch", init: str = "default") -> ResNet:
    """ResNet-101 (Bottlenecks [3, 4, 23, 3]); torchvision layer names."""
    return _imagenet(101, num_classes, in_chans, input_size, form, activation, norm, init)

@MODELS.register("resnet152")
def resnet152(*, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str = "auto",
             activation: str = "relu", norm: str = "batch", init: str = "default") -> ResNet:
    """ResNet-152 (Bottlenecks [3, 8, 36, 3]); torchvision layer names."""
    return _imagenet(152, num_classes, in_chans, input_size, form, activation, norm, init)

@MODELS.register("resnet20")
def resnet20(*, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str = "auto",
             shortcut: str = "a", activation: str = "relu", norm: str = "batch", init: str = "default") -> ResNet:
    """CIFAR ResNet-20 (6n+2, n=3; He et al. 2016, section 4.2)."""
    return _cifar(20, num_classes, in_chans, input_size, form, shortcut, activation, norm, init)

@MODELS.register("resnet32")
def resnet32(*, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str = "auto",
             shortcut: str = "a", activation: str = "relu", norm: str = "batch", init: str = "default") -> ResNet:
    """CIFAR ResNet-32 (6n+2, n=5; He et al. 2016, section 4.2)."""
    return _cifar(32, num_classes, in_chans, input_size, form, shortcut, activation, norm, init)

@MODELS.register("resnet44")
def resnet44(*, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str = "auto",
             shortcut: str = "a", activation: str = "relu", norm: str = "batch", init: str = "default") -> ResNet:
    """CIFAR ResNet-44 (6n+2, n=7; He et al. 2016, section 4.2)."""
    return _cifar(44, num_classes, in_chans, input_size, form, shortcut, activation, norm, init)

@MODELS.register("resnet56")
def resnet56(*, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str = "auto",
             shortcut: str = "a", activation: str = "relu", norm: str = "batch", init: str = "default") -> ResNet:
    """CIFAR ResNet-56 (6n+2, n=9; He et al. 2016, section 4.2)."""
    return _cifar(56, num_classes, in_chans, input_size, form, shortcut, activation, norm, init)

@MODELS.register("resnet110")
def resnet110(*, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str = "auto",
             shortcut: str = "a", activation: str = "relu", norm: str = "batch", init: str = "default") -> ResNet:
    """CIFAR ResNet-110 (6n+2, n=18; He et al. 2016, section 4.2)."""
    return _cifar(110, num_classes, in_chans, input_size, form, shortcut, activation, norm, init)
