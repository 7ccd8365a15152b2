"""VGG (Simonyan & Zisserman, 2015): only 3x3 convolutions; two stacked 3x3 see what one 5x5 sees with
fewer parameters (2*9*C^2 vs 25*C^2), three see a 7x7. Configurations A (11), B (13), D (16), E (19);
``_bn`` adds batch norm after every conv. Layer names are torchvision's (its state dicts load as they are).

Small-input form: the same convolutions with ceil-mode pooling (so 28x28 reaches 1x1), global average
pooling and a 512-512 classifier instead of 7x7x512 -> 4096 -> 4096.
"""
from __future__ import annotations

from typing import Iterator

import torch
from torch import nn

from nnlab.models.cnn.base import Classifier, pick_form
from nnlab.models.layers import activation as make_act, check_min_size, check_options, init_weights, norm2d
from nnlab.models.registry import MODELS

CFGS: dict[int, list[int | str]] = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


class VGG(Classifier):
    head_path = "classifier.6"

    def __init__(self, cfg: list[int | str], num_classes: int, in_chans: int, form: str, activation: str = "relu",
                 norm: str = "none", init: str = "default", dropout: float = 0.5) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = in_chans
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=form == "small"))
                continue
            layers.append(nn.Conv2d(c, int(v), 3, padding=1))  # torchvision keeps the bias even with BN
            if norm != "none":
                layers.append(norm2d(norm, int(v)))
            layers.append(make_act(activation))
            c = int(v)
        self.features = nn.Sequential(*layers)
        self.tap_names = tuple(str(i) for i, m in enumerate(layers) if isinstance(m, nn.MaxPool2d))
        self.num_features = c
        side, hidden = (7, 4096) if form == "imagenet" else (1, 512)
        self.avgpool = nn.AdaptiveAvgPool2d(side)
        self.classifier = nn.Sequential(
            nn.Linear(c * side * side, hidden), make_act(activation), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), make_act(activation), nn.Dropout(dropout), nn.Linear(hidden, num_classes))
        if init != "default":
            init_weights(self, init, activation)
        else:  # torchvision's
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.zeros_(m.bias)

    def feature_layers(self) -> Iterator[tuple[str, nn.Module]]:
        yield from self.features.named_children()

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.avgpool(x).flatten(1)  # (B, 512 * side^2)
        x = self.classifier[:-1](x)
        return x if pre_logits else self.classifier[-1](x)


def _vgg(depth: int, bn: bool, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str,
         activation: str, norm: str, init: str, dropout: float) -> VGG:
    check_options(activation, norm, init)
    form = pick_form(form, input_size)
    check_min_size(f"vgg{depth}{'_bn' if bn else ''}", input_size, 32 if form == "imagenet" else 8, form)
    return VGG(CFGS[depth], num_classes, in_chans, form, activation, norm, init, dropout)


@MODELS.register("vgg11")
def vgg11(*, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str = "auto",
          activation: str = "relu", norm: str = "none", init: str = "default", dropout: float = 0.5) -> VGG:
    """VGG-11."""
    return _vgg(11, False, num_classes, in_chans, input_size, form, activation, norm, init, dropout)

@MODELS.register("vgg11_bn")
def vgg11_bn(*, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str = "auto",
             activation: str = "relu", norm: str = "batch", init: str = "default", dropout: float = 0.5) -> VGG:
    """VGG-11 with batch norm."""
    return _vgg(11, True, num_classes, in_chans, input_size, form, activation, norm, init, dropout)

@MODELS.register("vgg13")
def vgg13(*, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str = "auto",
          activation: str = "relu", norm: str = "none", init: str = "default", dropout: float = 0.5) -> VGG:
    """VGG-13."""
    return _vgg(13, False, num_classes, in_chans, input_size, form, activation, norm, init, dropout)

@MODELS.register("vgg13_bn")
def vgg13_bn(*, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str = "auto",
             activation: str = "relu", norm: str = "batch", init: str = "default", dropout: float = 0.5) -> VGG:
    """VGG-13 with batch norm."""
    return _vgg(13, True, num_classes, in_chans, input_size, form, activation, norm, init, dropout)

@MODELS.register("vgg16")
def vgg16(*, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str = "auto",
          activation: str = "relu", norm: str = "none", init: str = "default", dropout: float = 0.5) -> VGG:
    """VGG-16."""
    return _vgg(16, False, num_classes, in_chans, input_size, form, activation, norm, init, dropout)

@MODELS.register("vgg16_bn")
def vgg16_bn(*, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str = "auto",
             activation: str = "relu", norm: str = "batch", init: str = "default", dropout: float = 0.5) -> VGG:
    """VGG-16 with batch norm."""
    return _vgg(16, True, num_classes, in_chans, input_size, form, activation, norm, init, dropout)

@MODELS.register("vgg19")
def vgg19(*, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str = "auto",
          activation: str = "relu", norm: str = "none", init: str = "default", dropout: float = 0.5) -> VGG:
    """VGG-19."""
    return _vgg(19, False, num_classes, in_chans, input_size, form, activation, norm, init, dropout)

@MODELS.register("vgg19_bn")
def vgg19_bn(*, num_classes: int, in_chans: int, input_size: tuple[int, int], form: str = "auto",
             activation: str = "relu", norm: str = "batch", init: str = "default", dropout: float = 0.5) -> VGG:
    """VGG-19 with batch norm."""
    return _vgg(19, True, num_classes, in_chans, input_size, form, activation, norm, init, dropout)
