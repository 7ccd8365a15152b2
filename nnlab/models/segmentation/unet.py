"""U-Net (Ronneberger, Fischer & Brox, MICCAI 2015): a contracting path of double 3x3 convolutions and 2x2
max-pooling, an expanding path that upsamples (2x2 up-convolution), concatenates the encoder map of the same
resolution (the skip) and convolves again. Whole feature maps cross over, not just pooling indices (SegNet).
Padded ("same") convolutions, so the output is the input's size; ``depth`` poolings, ``width`` channels at
the top, doubling per level."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nnlab.errors import ConfigError
from nnlab.models.layers import check_choice, check_options
from nnlab.models.segmentation.registry import SEGMENTERS
from nnlab.models.segmentation.segnet import conv_stack
from nnlab.models.segmentation.upsample import pad_to_multiple


class Up(nn.Module):
    """Upsample 2x to ``cout`` channels (2x2 transposed conv, or bilinear + 1x1 conv), concat the skip, 2 convs."""

    def __init__(self, cin: int, cout: int, upsample: str, norm: str, act: str) -> None:
        super().__init__()
        if upsample == "transposed":
            self.up: nn.Module = nn.ConvTranspose2d(cin, cout, 2, stride=2)
        else:
            self.up = nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                                    nn.Conv2d(cin, cout, 1))
        self.conv = conv_stack(2 * cout, cout, 2, norm, act)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.up(x)  # (B, cout, 2h, 2w)
        return self.conv(torch.cat([skip, x], dim=1))  # (B, cout, 2h, 2w)


class UNet(nn.Module):
    def __init__(self, classes: int, in_chans: int, depth: int = 4, width: int = 64, upsample: str = "transposed",
                 norm: str = "batch", activation: str = "relu") -> None:
        super().__init__()
        widths = [width * 2 ** i for i in range(depth + 1)]  # top .. bottleneck
        self.stride = 2 ** depth
        self.down = nn.ModuleList([conv_stack(in_chans, widths[0], 2, norm, activation)]
                                  + [conv_stack(a, b, 2, norm, activation) for a, b in zip(widths, widths[1:])])
        self.up = nn.ModuleList(Up(b, a, upsample, norm, activation) for a, b in zip(widths, widths[1:]))
        self.classifier = nn.Conv2d(widths[0], classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = pad_to_multiple(x, self.stride)  # (B, C, H', W')
        skips = []
        for i, stage in enumerate(self.down):
            x = stage(x if i == 0 else F.max_pool2d(x, 2))  # (B, width * 2^i, H'/2^i, W'/2^i)
            skips.append(x)
        for up, skip in zip(reversed(self.up), reversed(skips[:-1])):
            x = up(x, skip)
        return self.classifier(x)[..., :h, :w]  # (B, K, H, W)


@SEGMENTERS.register("unet")
def unet(*, classes: int, in_chans: int = 3, depth: int = 4, width: int = 64, upsample: str = "transposed",
         norm: str = "batch", activation: str = "relu") -> UNet:
    """U-Net with ``depth`` poolings (paper: 4) and ``width`` channels at full resolution (paper: 64)."""
    check_options(activation, norm)
    check_choice("upsample", upsample, ("transposed", "bilinear"))
    if depth < 1 or width < 1:
        raise ConfigError(f"unet needs depth >= 1 and width >= 1, got depth={depth}, width={width}")
    return UNet(classes, in_chans, depth, width, upsample, norm, activation)
