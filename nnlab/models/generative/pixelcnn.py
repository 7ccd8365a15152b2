"""PixelCNN (van den Oord et al. 2016; notes: PixelRNN / PixelCNN maximize the likelihood with the chain rule
p(x) = prod_i p(x_i | x_1..x_{i-1}) over the pixels in raster order, generating from the top-left corner).

Masked convolutions keep the chain rule: a type-A mask (first layer) lets output pixel i see only the pixels
before i; type-B masks (later layers) also let it see position i of the previous layer, which itself saw only
pixels before i. Training evaluates every conditional at once (one forward pass, parallel); sampling is
sequential: one forward pass per pixel.

Channels: all channels of pixel i are predicted from the pixels before i (they are conditionally
independent given the past; the per-channel R -> G -> B masks of the paper are left out). Output: binary
(``levels: 2``, one Bernoulli logit per channel and pixel) or ``levels: 256`` (a softmax over grey levels).
``gated: true`` uses the gated activation tanh(a) * sigmoid(b) of Gated PixelCNN (van den Oord et al. 2016b)
in the residual blocks (without the vertical / horizontal stacks, so the blind spot remains).
"""
from __future__ import annotations

import torch
from torch import nn

from nnlab.errors import ConfigError
from nnlab.models.generative.registry import GENERATIVE


class MaskedConv2d(nn.Conv2d):
    """A convolution whose kernel is zero below the centre row and right of the centre (type A: the centre
    too), so output (h, w) depends only on inputs before (h, w) in raster order."""

    def __init__(self, mask_type: str, in_chans: int, out_chans: int, kernel_size: int) -> None:
        super().__init__(in_chans, out_chans, kernel_size, padding=kernel_size // 2)
        if mask_type not in ("A", "B"):
            raise ValueError(f"mask type must be 'A' or 'B', got {mask_type!r}")
        k = kernel_size
        mask = torch.ones(1, 1, k, k)
        mask[..., k // 2, k // 2 + (mask_type == "B"):] = 0  # centre row: from the centre (A) or after it (B)
        mask[..., k // 2 + 1:, :] = 0  # every row below the centre
        self.register_buffer("mask", mask, persistent=False)
        self.mask_type = mask_type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight * self.mask, self.bias)


class ResidualBlock(nn.Module):
    """1x1 -> masked k x k (type B) -> 1x1 with a skip connection (the paper's residual block); gated: the
    middle layer gives 2h channels, combined as tanh(a) * sigmoid(b)."""

    def __init__(self, channels: int, kernel_size: int, gated: bool) -> None:
        super().__init__()
        h = channels // 2
        self.gated = gated
        self.reduce = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, h, 1), nn.ReLU())
        self.masked = MaskedConv2d("B", h, 2 * h if gated else h, kernel_size)
        self.expand = nn.Sequential(nn.Conv2d(h, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.masked(self.reduce(x))  # (B, h or 2h, H, W)
        if self.gated:
            a, b = y.chunk(2, dim=1)
            y = torch.tanh(a) * torch.sigmoid(b)
        else:
            y = torch.relu(y)
        return x + self.expand(y)


class PixelModel(nn.Module):
    """What every chain-rule image model shares (PixelCNN, PixelRNN): binary or ``levels``-way outputs,
    [0, 1] pixels <-> classes, and sampling in raster order, one forward pass per pixel on the ``window``
    that can reach it. A subclass sets ``in_chans``, ``input_size``, ``levels`` and implements ``forward``:
    images in [0, 1] (B, C, H, W) -> logits (B, C, H, W) for 2 levels, (B, levels, C, H, W) otherwise."""

    def _init_pixels(self, in_chans: int, input_size: tuple[int, int], levels: int) -> int:
        """Store the image format; returns the number of output channels of the last layer."""
        self.in_chans, self.input_size, self.levels = in_chans, tuple(input_size), levels
        return in_chans if levels == 2 else in_chans * levels

    def _shape_logits(self, out: torch.Tensor) -> torch.Tensor:
        if self.levels == 2:
            return out  # (B, C, H, W)
        b, _, h, w = out.shape
        return out.view(b, self.levels, self.in_chans, h, w)  # (B, L, C, H, W)

    def to_levels(self, x: torch.Tensor) -> torch.Tensor:
        """[0, 1] pixels -> integer classes 0..levels-1 (B, C, H, W)."""
        return (x * (self.levels - 1)).round().long()

    def window(self, i: int, j: int) -> tuple[int, int, int]:
        """Rows top..i and columns left..right-1 of the input that decide pixel (i, j) exactly."""
        return 0, 0, self.input_size[1]

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, crop: bool = True) -> torch.Tensor:
        """n images drawn pixel by pixel in raster order (H x W forward passes): (n, C, H, W) in [0, 1];
        with ``crop`` each pass sees only ``window(i, j)`` (the same draws, fewer operations)."""
        device = next(self.parameters()).device
        h, w = self.input_size
        x = torch.zeros(n, self.in_chans, h, w, device=device)
        for i in range(h):
            for j in range(w):
                top, left, right = self.window(i, j) if crop else (0, 0, w)
                logits = self(x[:, :, top:i + 1, left:right])[..., i - top, j - left].float()  # (n, C) | (n, L, C)
                x[:, :, i, j] = self._draw(logits, generator)
        return x

    def _draw(self, logits: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """One pixel per image from its logits: (n, C) values in [0, 1]."""
        if self.levels == 2:
            u = torch.rand(logits.shape, device=logits.device, generator=generator)
            return (u < torch.sigmoid(logits)).float()
        n = logits.shape[0]
        probs = logits.softmax(1).transpose(1, 2).reshape(-1, self.levels)  # (n C, L)
        draw = torch.multinomial(probs, 1, generator=generator).view(n, self.in_chans)
        return draw.float() / (self.levels - 1)


class PixelCNN(PixelModel):
    """Input: images in [0, 1] pixel units (B, C, H, W). Output logits: (B, C, H, W) for ``levels`` = 2,
    (B, levels, C, H, W) otherwise."""

    def __init__(self, in_chans: int, input_size: tuple[int, int], channels: int, blocks: int, levels: int,
                 kernel_size: int, gated: bool) -> None:
        super().__init__()
        out = self._init_pixels(in_chans, input_size, levels)
        self.net = nn.Sequential(
            MaskedConv2d("A", in_chans, channels, 7),
            *[ResidualBlock(channels, kernel_size, gated) for _ in range(blocks)],
            nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(), nn.Conv2d(channels, out, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._shape_logits(self.net(x * 2 - 1))  # centred input

    @property
    def reach(self) -> int:
        """How far an output pixel sees in the input, in rows up and columns either side: half of each masked
        kernel, summed over the layers (the 1x1 layers add nothing)."""
        return sum(m.kernel_size[0] // 2 for m in self.modules() if isinstance(m, MaskedConv2d))

    def window(self, i: int, j: int) -> tuple[int, int, int]:
        """Rows i - reach .. i, columns j - reach .. j + reach: the zero padding at a window's edges spoils at
        most ``reach`` rows / columns inward, so pixel (i, j) is exact (~6x fewer operations on 28x28, 4 blocks)."""
        r = self.reach
        return max(0, i - r), max(0, j - r), j + r + 1


def check_pixel_options(levels: int, channels: int) -> None:
    """The options PixelCNN and PixelRNN share: 2 or 256 output levels, an even channel count."""
    if levels not in (2, 256):
        raise ConfigError(f"config key 'model.levels' must be 2 (binary pixels) or 256 (grey levels), got {levels!r}")
    if not isinstance(channels, int) or channels < 2 or channels % 2:
        raise ConfigError(f"config key 'model.channels' must be an even integer >= 2, got {channels!r}")


@GENERATIVE.register("pixelcnn")
def pixelcnn(*, in_chans: int, input_size: tuple[int, int], channels: int = 64, blocks: int = 5, levels: int = 2,
             kernel_size: int = 3, gated: bool = False) -> PixelCNN:
    """A PixelCNN: a 7x7 type-A masked convolution, ``blocks`` residual blocks of type-B masked convolutions,
    two 1x1 layers; binary (``levels: 2``) or 256-way output."""
    check_pixel_options(levels, channels)
    if not isinstance(blocks, int) or blocks < 0:
        raise ConfigError(f"config key 'model.blocks' must be an integer >= 0, got {blocks!r}")
    if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ConfigError(f"config key 'model.kernel_size' must be an odd positive integer, got {kernel_size!r}")
    return PixelCNN(in_chans, input_size, channels, blocks, levels, kernel_size, gated)
