"""Necks: merge the backbone's maps across resolutions (notes: neck = feature pyramid; the coarse map is
upsampled to the fine one's H x W, then **add** ([C, H, W], channels must agree) or **concat** ([2C, H, W]),
brought back to C by a 1x1 conv so every level keeps ``width`` channels).

``none`` passes the maps through; ``fpn`` (Lin et al., 2017) is the top-down path with lateral 1x1 convs;
``pan`` (Liu et al., 2018, PANet) adds a bottom-up path (3x3 stride-2 convs) after the FPN.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from nnlab.models.layers import ConvNormAct, check_choice
from nnlab.registry import Registry

MERGES = ("add", "concat")
NECKS: Registry[nn.Module] = Registry("neck")
Maps = OrderedDict[str, torch.Tensor]


class Merge(nn.Module):
    """Merge two maps of ``channels`` channels and the same H x W: ``add`` -> C; ``concat`` -> 2C -> 1x1 -> C."""

    def __init__(self, mode: str, channels: int) -> None:
        super().__init__()
        check_choice("merge", mode, MERGES)
        self.mode = mode
        self.merged_channels = channels if mode == "add" else 2 * channels
        self.reduce = nn.Identity() if mode == "add" else ConvNormAct(2 * channels, channels, 1)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        merged = a + b if self.mode == "add" else torch.cat([a, b], 1)  # (B, C or 2C, H, W)
        return self.reduce(merged)  # (B, C, H, W)


class Neck(nn.Module):
    """Maps in, maps out (same names, same strides); ``out_channels`` per level."""

    out_channels: list[int]
    min_levels: int = 1


class NoNeck(Neck):
    """The backbone's maps as they are."""

    def __init__(self, in_channels: list[int]) -> None:
        super().__init__()
        self.out_channels = list(in_channels)

    def forward(self, maps: Maps) -> Maps:
        return maps


class FPN(Neck):
    """Top-down: p_coarsest = lateral(c); p_i = smooth(merge(lateral(c_i), upsample(p_{i+1})))."""

    min_levels = 2

    def __init__(self, in_channels: list[int], width: int = 64, merge: str = "add") -> None:
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, width, 1) for c in in_channels)
        self.merges = nn.ModuleList(Merge(merge, width) for _ in in_channels[:-1])
        self.smooth = nn.ModuleList(ConvNormAct(width, width, 3) for _ in in_channels)
        self.out_channels = [width] * len(in_channels)

    def forward(self, maps: Maps) -> Maps:
        names, xs = list(maps), list(maps.values())
        p = self.lateral[-1](xs[-1])  # (B, width, h_coarsest, w_coarsest)
        outs = [p]
        for i in range(len(xs) - 2, -1, -1):
            up = F.interpolate(p, size=xs[i].shape[-2:], mode="nearest")  # (B, width, h_i, w_i)
            p = self.merges[i](self.lateral[i](xs[i]), up)
            outs.insert(0, p)
        return OrderedDict((n, s(o)) for n, s, o in zip(names, self.smooth, outs))


class PAN(FPN):
    """FPN, then bottom-up: n_finest = p_finest; n_{i+1} = merge(p_{i+1}, down(n_i)) with a 3x3 stride-2 conv."""

    def __init__(self, in_channels: list[int], width: int = 64, merge: str = "add") -> None:
        super().__init__(in_channels, width, merge)
        self.down = nn.ModuleList(ConvNormAct(width, width, 3, 2) for _ in in_channels[:-1])
        self.up_merges = nn.ModuleList(Merge(merge, width) for _ in in_channels[:-1])

    def forward(self, maps: Maps) -> Maps:
        ps = super().forward(maps)
        names, xs = list(ps), list(ps.values())
        n = xs[0]
        outs = [n]
        for i in range(1, len(xs)):
            down = self.down[i - 1](n)  # (B, width, ~h_i, ~w_i)
            down = F.interpolate(down, size=xs[i].shape[-2:], mode="nearest") if down.shape[-2:] != xs[i].shape[-2:] \
                else down
            n = self.up_merges[i - 1](xs[i], down)
            outs.append(n)
        return OrderedDict(zip(names, outs))


@NECKS.register("none")
def no_neck(*, in_channels: list[int]) -> Neck:
    """No neck: the head reads the backbone's maps."""
    return NoNeck(in_channels)


@NECKS.register("fpn")
def fpn(*, in_channels: list[int], width: int = 64, merge: str = "add") -> Neck:
    """Feature pyramid network, ``merge: add|concat``."""
    return FPN(in_channels, width, merge)


@NECKS.register("pan")
def pan(*, in_channels: list[int], width: int = 64, merge: str = "add") -> Neck:
    """FPN + a bottom-up path (PANet)."""
    return PAN(in_channels, width, merge)
