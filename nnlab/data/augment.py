"""Batched training augmentation: per-sample random parameters, executed on the whole batch at once.

Geometric ops (rotation, scale, translation, random resized crop, pad-and-crop) are folded into one
affine matrix per sample and applied with a single ``grid_sample``; flips, 90-degree turns, HSV jitter
(as in DIGITS), Gaussian noise and random erasing are masked tensor ops. torchvision.transforms.v2 kernels
take one parameter per call, so these batched versions are tested against them sample by sample
(tests/data/test_augment.py). Ops work on pixels in [0, 1]: the batch is un-normalized, augmented and
normalized again. Labels are never changed.

On datasets marked orientation-sensitive (``data.orientation_sensitive``; by default ``digits``, ``mnist``
and the digit ``scenes``, where a flipped 2 or a turned 6 is another digit), ``hflip``, ``vflip``, ``rot90`` and
``rotate`` above ``MAX_SAFE_ANGLE`` degrees are refused before training.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import torch
import torch.nn.functional as F

from nnlab.config import AugmentConfig, DataConfig
from nnlab.data.preprocess import Preprocess
from nnlab.errors import ConfigError
from nnlab.regularize.mix import box_mask, clipped_boxes

PRESETS: dict[str, dict[str, Any]] = {
    "none": {},
    "digits": {"rotate": 10.0, "scale": [0.9, 1.1], "translate": 0.1},  # safe for digits
    "cifar": {"hflip": 0.5, "pad_crop": 4},
    "imagenet": {"resized_crop": [0.08, 1.0], "hflip": 0.5, "hue": 0.05, "saturation": 0.4, "value": 0.4},
    "strong": {"resized_crop": [0.25, 1.0], "hflip": 0.5, "rotate": 15.0, "hue": 0.05, "saturation": 0.4,
               "value": 0.4, "noise": 0.03, "erase": 0.25},
}
OFF: dict[str, Any] = {k: 0.0 for k in ("hflip", "vflip", "rot90", "rotate", "translate", "hue", "saturation",
                                       "value", "noise", "erase")} | {"pad_crop": 0}
ORIENTATION_SENSITIVE_DATASETS = ("digits", "mnist", "scenes")  # scenes: MNIST digit scenes (data/boxes/scenes.py)
MAX_SAFE_ANGLE = 30.0  # free rotations up to this keep a digit's identity
ERASE_AREA, ERASE_RATIO = (0.02, 0.33), (0.3, 3.3)  # torchvision RandomErasing's defaults


def resolve(cfg: AugmentConfig) -> AugmentConfig:
    """Every key set: the preset's values, overridden by every key the config sets (even to 0), the rest off."""
    if cfg.preset is not None and cfg.preset not in PRESETS:
        raise ConfigError(f"config key 'augment.preset' got {cfg.preset!r}, expected one of {list(PRESETS)}")
    own = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if getattr(cfg, f.name) is not None}
    return AugmentConfig(**{**OFF, **PRESETS.get(cfg.preset or "none", {}), **own})


def orientation_sensitive(data: DataConfig) -> bool:
    if data.orientation_sensitive is not None:
        return data.orientation_sensitive
    return data.dataset in ORIENTATION_SENSITIVE_DATASETS


def check(cfg: AugmentConfig, data: DataConfig) -> None:
    """Refuse label-changing geometric ops on orientation-sensitive data (before any work starts)."""
    a = resolve(cfg)
    if not orientation_sensitive(data):
        return
    bad = [k for k in ("hflip", "vflip", "rot90") if getattr(a, k) > 0]
    if a.rotate > MAX_SAFE_ANGLE:
        bad.append("rotate")
    if bad:
        raise ConfigError(f"config key 'augment.{bad[0]}' would change labels: dataset {data.dataset!r} is "
                          f"orientation-sensitive (flips, 90-degree turns and rotations over {MAX_SAFE_ANGLE:g} "
                          "degrees are refused); set data.orientation_sensitive: false if orientation does "
                          "not matter for your labels")


def _uniform(n: int, lo: float, hi: float, g: torch.Generator | None) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)


def hsv_shift(p: torch.Tensor, dh: torch.Tensor, ds: torch.Tensor, dv: torch.Tensor) -> torch.Tensor:
    """RGB (B, 3, H, W) in [0, 1] -> HSV, hue + dh (turns), saturation and value times (1 + ds / dv),
    -> RGB, in one pass without materializing HSV (same result as torchvision's adjust_hue for the hue)."""
    r, g, b = p.unbind(1)  # each (B, H, W)
    vmax, which = p.max(1)
    chroma = vmax - p.amin(1)
    safe = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    hue = torch.where(which == 0, ((g - b) / safe) % 6, torch.where(which == 1, (b - r) / safe + 2, (r - g) / safe + 4))
    hue = (torch.where(chroma > 0, hue, torch.zeros_like(hue)) + 6 * dh) % 6  # sextants, [0, 6)
    sat = (chroma / torch.where(vmax > 0, vmax, torch.ones_like(vmax)) * (1 + ds)).clamp(0, 1)
    value = (vmax * (1 + dv)).clamp(0, 1)
    k = (torch.tensor([5.0, 3.0, 1.0], device=p.device).view(1, 3, 1, 1) + hue[:, None]) % 6  # (B, 3, H, W)
    return value[:, None] - (value * sat)[:, None] * torch.minimum(k, 4 - k).clamp(0, 1)


class BatchAugment:
    """``(x, y) -> (x', y)`` on normalized (B, C, H, W) batches; random under ``generator`` (default:
    the global torch RNG, which checkpoints save, so resumed runs continue the same stream)."""

    def __init__(self, cfg: AugmentConfig, mean: list[float], std: list[float],
                 generator: torch.Generator | None = None) -> None:
        self.cfg = resolve(cfg)
        self.mean = torch.tensor(mean).view(1, -1, 1, 1)
        self.std = torch.tensor(std).view(1, -1, 1, 1)
        self.g = generator

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, std = self.mean.to(x.device), self.std.to(x.device)
        return (self.pixels(x * std + mean) - mean) / std, y

    def pixels(self, p: torch.Tensor) -> torch.Tensor:
        """Augment pixels in [0, 1], (B, C, H, W)."""
        c = self.cfg
        if c.hflip > 0:
            p = self._where(c.hflip, p.flip(-1), p)
        if c.vflip > 0:
            p = self._where(c.vflip, p.flip(-2), p)
        if c.rot90 > 0:
            p = self.rot90(p)
        if c.rotate > 0 or c.scale or c.translate > 0 or c.resized_crop or c.pad_crop > 0:
            p = self.affine(p)
        return self.photometric(p)

    def photometric(self, p: torch.Tensor) -> torch.Tensor:
        """The ops that change pixel values but move nothing: HSV jitter, noise, erasing."""
        c = self.cfg
        if c.hue > 0 or c.saturation > 0 or c.value > 0:
            p = self.hsv(p)
        if c.noise > 0:
            p = (p + c.noise * torch.randn(p.shape, generator=self.g).to(p.device)).clamp(0, 1)
        if c.erase > 0:
            p = self.erase(p)
        return p

    def _mask(self, prob: float, n: int, device: torch.device) -> torch.Tensor:
        return (torch.rand(n, generator=self.g) < prob).to(device)

    def _where(self, prob: float, changed: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        return torch.where(self._mask(prob, len(p), p.device).view(-1, 1, 1, 1), changed, p)

    def rot90(self, p: torch.Tensor) -> torch.Tensor:
        """A random quarter turn (1-3 steps; only 180 degrees for non-square images) with probability rot90."""
        return rot90_by(p, self.rot90_steps(len(p), p.shape[-1] == p.shape[-2]))

    def rot90_steps(self, n: int, square: bool) -> torch.Tensor:
        """(n,) quarter turns per sample, 0 where no turn is drawn."""
        steps = torch.randint(1, 4, (n,), generator=self.g) if square else torch.full((n,), 2)
        return torch.where(self._mask(self.cfg.rot90, n, torch.device("cpu")), steps, 0)

    def affine_matrices(self, n: int, height: int, width: int) -> torch.Tensor:
        """(n, 2, 3) maps from output to input coordinates (normalized, ``align_corners=False``)."""
        c, g = self.cfg, self.g
        angle = _uniform(n, -c.rotate, c.rotate, g) * math.pi / 180
        zoom = _uniform(n, *c.scale, g) if c.scale else torch.ones(n)
        cos, sin = angle.cos() / zoom, angle.sin() / zoom
        aspect = width / height  # rotate in pixel units, not in the (possibly non-square) unit square
        a = torch.stack([torch.stack([cos, -sin / aspect], 1), torch.stack([sin * aspect, cos], 1)], 1)  # (n,2,2)
        shift = torch.zeros(n, 2)
        if c.translate > 0:
            shift += 2 * _uniform(2 * n, -c.translate, c.translate, g).view(n, 2)
        if c.pad_crop > 0:
            px = torch.randint(-c.pad_crop, c.pad_crop + 1, (n, 2), generator=g).float()
            shift += 2 * px / torch.tensor([width, height])
        if c.resized_crop:
            area = _uniform(n, *c.resized_crop, g)
            ratio = torch.exp(_uniform(n, math.log(3 / 4), math.log(4 / 3), g))
            size = torch.stack([(area * ratio).sqrt(), (area / ratio).sqrt()], 1).clamp(max=1.0)  # (n, 2) w, h
            offset = (2 * torch.rand(n, 2, generator=g) - 1) * (1 - size)
            a, shift = size[:, :, None] * a, size * shift + offset
        return torch.cat([a, shift[:, :, None]], 2)

    def affine(self, p: torch.Tensor) -> torch.Tensor:
        theta = self.affine_matrices(len(p), p.shape[-2], p.shape[-1]).to(p.device, p.dtype)
        grid = affine_grid(theta, p.shape[-2], p.shape[-1])
        return F.grid_sample(p, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def hsv(self, p: torch.Tensor) -> torch.Tensor:
        """Random shifts of hue, and relative changes of saturation and value, per sample (DIGITS' HSV
        jitter). Grey images get the value change only."""
        c, n = self.cfg, len(p)
        dh, ds, dv = (_uniform(n, -m, m, self.g).to(p.device).view(-1, 1, 1) for m in (c.hue, c.saturation, c.value))
        if p.shape[1] != 3:
            return (p * (1 + dv[:, None])).clamp(0, 1)
        return hsv_shift(p, dh, ds, dv)

    def erase(self, p: torch.Tensor) -> torch.Tensor:
        """Random erasing (Zhong et al. 2020): with probability erase, a box inside the image set to 0."""
        n, _, height, width = p.shape
        area = _uniform(n, *ERASE_AREA, self.g) * height * width
        ratio = torch.exp(_uniform(n, math.log(ERASE_RATIO[0]), math.log(ERASE_RATIO[1]), self.g))
        h, w = (area * ratio).sqrt().clamp(1, height), (area / ratio).sqrt().clamp(1, width)
        cy = h / 2 + torch.rand(n, generator=self.g) * (height - h)
        cx = w / 2 + torch.rand(n, generator=self.g) * (width - w)
        mask = box_mask(clipped_boxes(cy, cx, h, w, height, width).to(p.device), height, width)
        mask &= self._mask(self.cfg.erase, n, p.device).view(-1, 1, 1, 1)
        return p.masked_fill(mask, 0.0)


def rot90_by(p: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """Turn each sample of (B, ..., H, W) by its own number of quarter turns (``torch.rot90`` on the last 2 dims)."""
    out = p.clone()
    for k in (1, 2, 3):
        idx = (steps == k).nonzero().flatten().to(p.device)
        if len(idx):
            out[idx] = torch.rot90(p[idx], k, (-2, -1))
    return out


def affine_grid(theta: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``F.affine_grid(theta, (n, C, height, width), align_corners=False)``, computed elementwise from cached pixel
    centres: about twice as fast on CPU (the batched matmul with three columns is the slow part there)."""
    bx, by = _pixel_centres(height, width, theta.device, theta.dtype)
    t = theta[:, :, :, None]  # (n, 2, 3, 1)
    grid = t[:, :, 0] * bx + t[:, :, 1] * by + t[:, :, 2]  # (n, 2, H*W): x and y
    return grid.transpose(1, 2).reshape(len(theta), height, width, 2)


@functools.lru_cache(maxsize=8)
def _pixel_centres(height: int, width: int, device: torch.device, dtype: torch.dtype
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalized x and y of every pixel centre, (1, H*W) each, row-major."""
    xs = (torch.arange(width, dtype=torch.float64) * 2 + 1) / width - 1
    ys = (torch.arange(height, dtype=torch.float64) * 2 + 1) / height - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return gx.reshape(1, -1).to(device, dtype), gy.reshape(1, -1).to(device, dtype)


def build(cfg: AugmentConfig, pre: Preprocess, generator: torch.Generator | None = None) -> BatchAugment | None:
    """The training augmentation of an ``augment`` section, or None when it does nothing."""
    resolved = resolve(cfg)
    if dataclasses.replace(resolved, preset=None) == resolve(AugmentConfig()):
        return None
    return BatchAugment(resolved, pre.mean, pre.std, generator)
