"""Building blocks chosen by name: activation, normalization and weight initialization (notes: 활성화 함수,
Batch/Layer/Instance/Group Normalization, Weight Initialization), and the conv -> norm -> act block."""
from __future__ import annotations

import math
from typing import Sequence

from torch import nn

from nnlab.errors import ConfigError

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
    "elu": nn.ELU, "gelu": nn.GELU,
}
NORMS = ("batch", "group", "layer", "instance", "none")
INITS = ("default", "gaussian", "xavier", "he")  # default: PyTorch's own / the family's reference init


def check_choice(key: str, value: str, valid: Sequence[str]) -> None:
    """Raise a ConfigError naming ``model.<key>`` and the valid values when ``value`` is not one of them."""
    if value not in valid:
        raise ConfigError(f"config key 'model.{key}' got {value!r}, expected one of {', '.join(valid)}")


def check_options(activation: str = "relu", norm: str = "none", init: str = "default") -> None:
    """Validate the three by-name options every model takes (before anything is built)."""
    check_choice("activation", activation, list(ACTIVATIONS))
    check_choice("norm", norm, NORMS)
    check_choice("init", init, INITS)


def check_min_size(model: str, input_size: Sequence[int], minimum: int, form: str = "") -> None:
    """Refuse inputs smaller than ``minimum`` x ``minimum`` with a message that names the minimum."""
    if min(input_size) < minimum:
        where = f" ({form} form)" if form else ""
        raise ConfigError(f"{model}{where} needs inputs of at least {minimum}x{minimum}, "
                          f"got {input_size[0]}x{input_size[1]}")


def activation(name: str) -> nn.Module:
    check_choice("activation", name, list(ACTIVATIONS))
    return ACTIVATIONS[name]()


def norm2d(name: str, channels: int) -> nn.Module:
    """``batch`` BatchNorm2d; ``group`` GroupNorm (32 groups, fewer when C is not divisible); ``layer`` one
    group over (C, H, W); ``instance`` per-channel per-sample (affine); ``none`` identity."""
    check_choice("norm", name, NORMS)
    if name == "batch":
        return nn.BatchNorm2d(channels)
    if name == "group":
        return nn.GroupNorm(math.gcd(32, channels), channels)
    if name == "layer":
        return nn.GroupNorm(1, channels)
    if name == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.Identity()


def norm1d(name: str, features: int) -> nn.Module:
    """Normalization of (B, F) features (MLPs): ``batch``, ``layer``, ``group``; ``none`` identity. Instance
    norm needs spatial maps and is refused."""
    check_choice("norm", name, [n for n in NORMS if n != "instance"])
    if name == "batch":
        return nn.BatchNorm1d(features)
    if name == "layer":
        return nn.LayerNorm(features)
    if name == "group":
        return nn.GroupNorm(math.gcd(32, features), features)
    return nn.Identity()


def init_weights(model: nn.Module, scheme: str, activation_name: str = "relu") -> None:
    """Re-initialize every conv and linear weight by name: ``gaussian`` N(0, 0.01^2) — fine for shallow nets,
    vanishing in deep ones; ``xavier`` (Glorot & Bengio 2010) keeps the variance through layers; ``he``
    (He et al. 2015) doubles it for ReLU, which zeroes half the inputs. Biases start at 0; norm layers at
    weight 1, bias 0. ``default`` leaves the model's own initialization."""
    check_choice("init", scheme, INITS)
    if scheme == "default":
        return
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            if scheme == "gaussian":
                nn.init.normal_(m.weight, std=0.01)
            elif scheme == "xavier":
                nn.init.xavier_normal_(m.weight)
            else:
                leaky = activation_name == "leaky_relu"
                nn.init.kaiming_normal_(m.weight, a=0.01 if leaky else 0,
                                        nonlinearity="leaky_relu" if leaky else "relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d, nn.LayerNorm)) \
                and m.weight is not None:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class ConvNormAct(nn.Sequential):
    """conv -> norm -> activation; the conv has a bias only when there is no norm to absorb it."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, padding: int | None = None,
                 norm: str = "batch", act: str | None = "relu", groups: int = 1) -> None:
        padding = kernel // 2 if padding is None else padding
        layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, kernel, stride, padding, groups=groups,
                                             bias=norm == "none")]
        if norm != "none":
            layers.append(norm2d(norm, out_ch))
        if act is not None:
            layers.append(activation(act))
        super().__init__(*layers)
