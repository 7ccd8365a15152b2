"""Fully convolutional networks (Long, Shelhamer & Darrell, CVPR 2015): a classifier without its FC layers
scores every cell of its coarsest feature map, and the scores are upsampled back to the input. FCN-32s
upsamples the stride-32 scores in one step; FCN-16s first adds scores from the stride-16 tap (after a 2x
upsampling), FCN-8s also from the stride-8 tap: the skips bring back the detail pooling threw away.

Here the backbone is any zoo classifier (``MODELS``), read through ``feature_taps``: the coarsest tap plays
pool5, the next ones pool4 and pool3 (the names 32s / 16s / 8s are VGG's strides; other backbones keep the
structure with their own strides). As in the paper the skip score layers start at zero, intermediate
transposed convolutions start as bilinear upsampling and are learned, and the last one is fixed bilinear.
fc6 / fc7 become a 3x3 and a 1x1 convolution of ``head_width`` channels (the paper's 7x7x4096 is too big here).
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from nnlab.models.cnn.base import Classifier
from nnlab.models.registry import MODELS
from nnlab.models.segmentation.registry import SEGMENTERS
from nnlab.models.segmentation.upsample import Upsample, fit_to, pad_to_multiple
from nnlab.errors import ConfigError

PROBE = 512  # side of the meta-device probe that measures each tap's stride and channels


def probe_taps(backbone: Classifier, in_chans: int) -> tuple[list[tuple[str, int, int]], int]:
    """(name, channels, stride) of every tap, high resolution first, and the smallest input side (a power of two)
    the backbone takes; measured on a meta-device copy (shapes only: no compute, no memory)."""
    memo: dict[int, torch.Tensor] = {id(p): nn.Parameter(torch.empty_like(p, device="meta"), requires_grad=False)
                                     for p in backbone.parameters()}
    memo.update({id(b): torch.empty_like(b, device="meta") for b in backbone.buffers()})
    meta = copy.deepcopy(backbone, memo).eval()
    with torch.no_grad():
        taps = meta.feature_taps(torch.empty(1, in_chans, PROBE, PROBE, device="meta"))
        side = 1
        while side < PROBE and not _runs(meta, in_chans, side):
            side *= 2
    return [(name, t.shape[1], max(1, round(PROBE / t.shape[-1]))) for name, t in taps.items()], side


def _runs(meta: Classifier, in_chans: int, side: int) -> bool:
    try:
        meta.feature_taps(torch.empty(1, in_chans, side, side, device="meta"))
        return True
    except RuntimeError:  # "output size is too small"
        return False


def strip_head(backbone: Classifier) -> None:
    """Replace the backbone's children that no feature layer lives in (pooling, FC head) by identities, so every
    remaining parameter is used and the encoder's state-dict keys stay the zoo's (pretrained weights load)."""
    used = {id(m) for _, layer in backbone.feature_layers() for m in layer.modules()}
    for name, child in list(backbone.named_children()):
        if not any(id(m) in used for m in child.modules()):
            setattr(backbone, name, nn.Identity())


class FCN(nn.Module):
    """Backbone taps -> fc6/fc7 convs -> class scores, fused with ``skips`` earlier taps, upsampled to the input."""

    def __init__(self, backbone: Classifier, in_chans: int, classes: int, skips: int,
                 upsample: str = "transposed", head_width: int = 512, dropout: float = 0.5) -> None:
        super().__init__()
        taps, self.min_side = probe_taps(backbone, in_chans)
        if skips + 1 > len(taps):
            raise ConfigError(f"FCN with {skips} skips needs {skips + 1} feature taps; the backbone has {len(taps)}")
        strip_head(backbone)
        self.backbone = backbone
        used = taps[-(skips + 1):]  # fine .. coarse
        self.tap_names = [name for name, _, _ in used]
        self.stride = used[-1][2]
        c_last = used[-1][1]
        self.head = nn.Sequential(  # fc6, fc7 as convolutions
            nn.Conv2d(c_last, head_width, 3, padding=1), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Conv2d(head_width, head_width, 1), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Conv2d(head_width, classes, 1))
        self.skip_scores = nn.ModuleList(nn.Conv2d(c, classes, 1) for _, c, _ in used[:-1])  # coarse -> fine order
        self.skip_scores = nn.ModuleList(list(self.skip_scores)[::-1])
        self.skip_ups = nn.ModuleList(Upsample(classes, max(1, coarse[2] // fine[2]), upsample)
                                      for fine, coarse in zip(used[-2::-1], used[:0:-1]))
        self.final_up = Upsample(classes, used[0][2], upsample, learnable=False)
        for conv in self.skip_scores:  # the paper zero-initialises the skip score layers
            nn.init.zeros_(conv.weight), nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = pad_to_multiple(x, self.stride, self.min_side)  # (B, C, H', W'), multiples of the stride
        taps = self.backbone.feature_taps(x)
        feats = [taps[n] for n in self.tap_names]  # fine .. coarse
        score = self.head(feats[-1])  # (B, K, H'/s, W'/s)
        for feat, up, skip in zip(feats[-2::-1], self.skip_ups, self.skip_scores):
            score = up(score, feat.shape[-2:]) + skip(feat)  # (B, K, h_tap, w_tap)
        return self.final_up(score, x.shape[-2:])[..., :h, :w]  # (B, K, H, W)


def _fcn(skips: int, classes: int, in_chans: int, backbone: str, upsample: str, input_size: tuple[int, int],
         form: str, head_width: int, dropout: float) -> FCN:
    if "form" not in MODELS.options(backbone):
        raise ConfigError(f"FCN needs a convolutional zoo backbone with feature taps, got {backbone!r}")
    net = MODELS.build(backbone, num_classes=1, in_chans=in_chans, input_size=tuple(input_size), form=form)
    if not isinstance(net, Classifier) or not net.tap_names:
        raise ConfigError(f"FCN needs a convolutional zoo backbone with feature taps, got {backbone!r}")
    return FCN(net, in_chans, classes, skips, upsample, head_width, dropout)


@SEGMENTERS.register("fcn32s")
def fcn32s(*, classes: int, in_chans: int = 3, backbone: str = "vgg16", upsample: str = "transposed",
           input_size: tuple[int, int] = (224, 224), form: str = "auto", head_width: int = 512,
           dropout: float = 0.5) -> FCN:
    """FCN-32s: scores from the coarsest tap only, upsampled in one step."""
    return _fcn(0, classes, in_chans, backbone, upsample, input_size, form, head_width, dropout)


@SEGMENTERS.register("fcn16s")
def fcn16s(*, classes: int, in_chans: int = 3, backbone: str = "vgg16", upsample: str = "transposed",
           input_size: tuple[int, int] = (224, 224), form: str = "auto", head_width: int = 512,
           dropout: float = 0.5) -> FCN:
    """FCN-16s: plus one skip from the second-coarsest tap (pool4 on VGG)."""
    return _fcn(1, classes, in_chans, backbone, upsample, input_size, form, head_width, dropout)


@SEGMENTERS.register("fcn8s")
def fcn8s(*, classes: int, in_chans: int = 3, backbone: str = "vgg16", upsample: str = "transposed",
          input_size: tuple[int, int] = (224, 224), form: str = "auto", head_width: int = 512,
          dropout: float = 0.5) -> FCN:
    """FCN-8s: plus skips from the two taps before the coarsest (pool4 and pool3 on VGG)."""
    return _fcn(2, classes, in_chans, backbone, upsample, input_size, form, head_width, dropout)
