"""SegNet (Badrinarayanan, Kendall & Cipolla, TPAMI 2017): a VGG-style encoder whose max-pooling layers remember
where each maximum came from, and a mirrored decoder that puts every value back at that remembered position
(max-unpooling, the notes' unpooling) and densifies the sparse map with convolutions. Only the indices cross
from encoder to decoder, not whole feature maps (unlike U-Net). Defaults are VGG-16's 13 convolutions."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nnlab.errors import ConfigError
from nnlab.models.layers import ConvNormAct, check_options
from nnlab.models.segmentation.registry import SEGMENTERS
from nnlab.models.segmentation.upsample import pad_to_multiple


def conv_stack(cin: int, cout: int, n: int, norm: str, act: str, last_act: bool = True) -> nn.Sequential:
    """``n`` 3x3 conv-norm-act layers cin -> cout (-> cout ...); ``last_act=False`` leaves the last one linear."""
    layers = [ConvNormAct(cin if i == 0 else cout, cout, 3, norm=norm, act=act) for i in range(n - 1)]
    layers.append(ConvNormAct(cin if n == 1 else cout, cout, 3, norm=norm if last_act else "none",
                              act=act if last_act else None))
    return nn.Sequential(*layers)


class SegNet(nn.Module):
    """Encoder stages conv x n -> max-pool (indices kept); decoder stages max-unpool (those indices) -> conv x n."""

    def __init__(self, classes: int, in_chans: int, widths: Sequence[int], depths: Sequence[int],
                 norm: str = "batch", activation: str = "relu") -> None:
        super().__init__()
        if len(widths) != len(depths) or not widths or min(depths) < 1:
            raise ConfigError("segnet: 'widths' and 'depths' need the same non-zero length and depths >= 1")
        self.stride = 2 ** len(widths)
        ins = [in_chans, *widths[:-1]]
        self.encoder = nn.ModuleList(conv_stack(i, w, d, norm, activation) for i, w, d in zip(ins, widths, depths))
        # decoder stage s mirrors encoder stage s: width_s -> width_{s-1}; the first stage ends in widths[0]
        outs = [widths[0], *widths[:-1]]
        self.decoder = nn.ModuleList(conv_stack(w, o, d, norm, activation) for w, o, d in zip(widths, outs, depths))
        self.classifier = nn.Conv2d(widths[0], classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = pad_to_multiple(x, self.stride)  # (B, C, H', W')
        indices, sizes = [], []
        for stage in self.encoder:
            x = stage(x)
            sizes.append(x.shape[-2:])
            x, idx = F.max_pool2d(x, 2, 2, return_indices=True)  # (B, C_s, h/2, w/2), argmax positions
            indices.append(idx)
        for stage, idx, size in zip(reversed(self.decoder), reversed(indices), reversed(sizes)):
            x = F.max_unpool2d(x, idx, 2, 2, output_size=size)  # sparse (B, C_s, h, w): values at the argmaxes
            x = stage(x)
        return self.classifier(x)[..., :h, :w]  # (B, K, H, W)


@SEGMENTERS.register("segnet")
def segnet(*, classes: int, in_chans: int = 3, widths: Sequence[int] = (64, 128, 256, 512, 512),
           depths: Sequence[int] = (2, 2, 3, 3, 3), norm: str = "batch", activation: str = "relu") -> SegNet:
    """SegNet; ``widths`` / ``depths``: channels and conv count of each encoder stage (VGG-16's by default)."""
    check_options(activation, norm)
    return SegNet(classes, in_chans, list(widths), list(depths), norm, activation)
