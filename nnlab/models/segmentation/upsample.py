"""Upsampling pieces shared by the segmentation models, and the pad / crop that lets them take any input size.

The notes name three ways back up to the input resolution: interpolation, unpooling and transposed
convolution. ``Upsample`` offers all three behind one module; SegNet's max-unpooling (which needs the pooling
indices) lives in segnet.py.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nnlab.models.layers import check_choice

UPSAMPLE_MODES = ("transposed", "bilinear", "unpool")


def bilinear_kernel(factor: int) -> torch.Tensor:
    """The (k, k) kernel that makes a stride-``factor`` transposed convolution bilinear upsampling
    (Long et al. 2015, section 3.3); k = 2f - f mod 2. Equal to ``F.interpolate(bilinear, align_corners=False)``
    away from the border with padding ``(k - f) // 2``."""
    size = 2 * factor - factor % 2
    center = factor - 1 if factor % 2 == 1 else factor - 0.5
    og = torch.arange(size, dtype=torch.float64)
    line = 1 - (og - center).abs() / factor  # (k,)
    return (line[:, None] * line[None, :]).float()  # (k, k)


def bilinear_transposed(channels: int, factor: int, learnable: bool = True) -> nn.ConvTranspose2d:
    """A channel-wise transposed convolution initialised to bilinear upsampling by ``factor``: output n * f."""
    kernel = bilinear_kernel(factor)
    k = kernel.shape[0]
    conv = nn.ConvTranspose2d(channels, channels, k, stride=factor, padding=(k - factor) // 2, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        for c in range(channels):  # diagonal: class c only feeds class c at the start
            conv.weight[c, c] = kernel
    conv.weight.requires_grad_(learnable)
    return conv


class Upsample(nn.Module):
    """Upsample by an integer ``factor`` with ``mode``: ``transposed`` (a transposed convolution initialised to
    bilinear, learned unless ``learnable=False``), ``bilinear`` (interpolation, no parameters) or ``unpool``
    (nearest-neighbour unpooling: each value copied into its f x f cell; no parameters)."""

    def __init__(self, channels: int, factor: int, mode: str = "transposed", learnable: bool = True) -> None:
        super().__init__()
        check_choice("upsample", mode, UPSAMPLE_MODES)
        self.factor, self.mode = factor, mode
        self.conv = bilinear_transposed(channels, factor, learnable) if mode == "transposed" and factor > 1 else None
        if self.conv is not None and not learnable:  # fixed: a buffer, so it moves with the model but never trains
            weight = self.conv.weight.detach()
            del self.conv.weight
            self.conv.register_buffer("weight", weight)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """(B, C, h, w) -> (B, C, H, W) with (H, W) = ``size`` (the result is cropped / padded to it)."""
        if self.factor == 1:
            return fit_to(x, size)
        if self.conv is not None:
            return fit_to(self.conv(x), size)  # (B, C, h*f, w*f)
        if self.mode == "bilinear":
            return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return fit_to(F.interpolate(x, scale_factor=self.factor, mode="nearest"), size)


def fit_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Crop (bottom / right) or replicate-pad (B, C, h, w) to (B, C, *size)."""
    dh, dw = size[0] - x.shape[-2], size[1] - x.shape[-1]
    if dh > 0 or dw > 0:
        x = F.pad(x, (0, max(dw, 0), 0, max(dh, 0)), mode="replicate")
    return x[..., : size[0], : size[1]]


def pad_to_multiple(x: torch.Tensor, multiple: int, minimum: int = 1) -> torch.Tensor:
    """Zero-pad (B, C, H, W) at the bottom / right so H and W are multiples of ``multiple`` (the model's total
    stride) and at least ``minimum``: every stage then halves exactly and skips line up; the caller crops the
    logits back to (H, W)."""
    h, w = x.shape[-2:]
    ph, pw = max(minimum, h) - h, max(minimum, w) - w
    ph, pw = ph + -(h + ph) % multiple, pw + -(w + pw) % multiple
    return F.pad(x, (0, pw, 0, ph)) if ph or pw else x
