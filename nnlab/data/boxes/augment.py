"""Box- and mask-aware batched augmentation: the classification augmentation's machinery
(``nnlab.data.augment.BatchAugment``: per-sample random parameters, one affine matrix per sample and a single
``grid_sample``) with the same geometry applied to the targets.

Boxes: the 4 corners go through the inverse of the sampling matrix, the enclosing box is clipped to the image,
and a box whose visible fraction (clipped area / area before clipping) falls below ``min_visibility`` is dropped
with its label and mask. Instance masks (``targets[i]["masks"]``, (n, H, W)) and semantic masks (a (B, H, W)
tensor instead of the target list; outside the image becomes 255 = ignore) move by nearest neighbour.
Flips, quarter turns, scale / translate / rotate, resized crop, pad-and-crop, HSV jitter, noise and erasing are
supported. Orientation-sensitive classes (digits) refuse flips and quarter turns.
"""
from __future__ import annotations

from typing import Any, Union

import torch
import torch.nn.functional as F

from nnlab.config import AugmentConfig, DataConfig
from nnlab.data import augment
from nnlab.data.augment import BatchAugment, affine_grid, rot90_by
from nnlab.data.preprocess import Preprocess
from nnlab.errors import ConfigError

Targets = Union[list[dict[str, torch.Tensor]], torch.Tensor]  # per-image dicts, or semantic masks (B, H, W)
IGNORE = 255


class BoxAugment(BatchAugment):
    """``(x, targets) -> (x', targets')`` on normalized (B, C, H, W) batches; random under ``generator``."""

    def __init__(self, cfg: AugmentConfig, mean: list[float], std: list[float],
                 generator: torch.Generator | None = None, min_visibility: float = 0.3,
                 orientation_sensitive: bool = False) -> None:
        super().__init__(cfg, mean, std, generator)
        flips = [k for k in ("hflip", "vflip", "rot90") if getattr(self.cfg, k) > 0]
        if orientation_sensitive and flips:
            raise ConfigError(f"config key 'augment.{flips[0]}' would change labels: these classes are "
                              "orientation-sensitive (a flipped digit is another digit)")
        self.min_visibility = min_visibility

    def __call__(self, x: torch.Tensor, targets: Any) -> tuple[torch.Tensor, Any]:
        mean, std = self.mean.to(x.device), self.std.to(x.device)
        p, targets = self.pixels_and_targets(x * std + mean, targets)
        return (p - mean) / std, targets

    def pixels_and_targets(self, p: torch.Tensor, targets: Targets) -> tuple[torch.Tensor, Targets]:
        """Augment pixels in [0, 1] (B, C, H, W) and move the targets with them."""
        c, n = self.cfg, len(p)
        semantic = isinstance(targets, torch.Tensor)
        targets = targets.clone() if semantic else [dict(t) for t in targets]
        for prob, dim in ((c.hflip, -1), (c.vflip, -2)):
            if prob > 0:
                flip = self._mask(prob, n, p.device)
                p = torch.where(flip.view(-1, 1, 1, 1), p.flip(dim), p)
                targets = _flip(targets, flip, dim, p.shape[-2:])
        if c.rot90 > 0:
            steps = self.rot90_steps(n, p.shape[-1] == p.shape[-2])
            targets = rot90_by(targets, steps) if semantic else _turn(targets, steps, *p.shape[-2:])
            p = rot90_by(p, steps)
        if c.rotate > 0 or c.scale or c.translate > 0 or c.resized_crop or c.pad_crop > 0:
            theta = self.affine_matrices(n, p.shape[-2], p.shape[-1]).to(p.device, p.dtype)  # (B, 2, 3)
            grid = affine_grid(theta, p.shape[-2], p.shape[-1])
            p = F.grid_sample(p, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
            targets = _warp_semantic(targets, grid) if semantic else \
                [self._warp_target(t, theta[i], grid[i:i + 1]) for i, t in enumerate(targets)]
        return self.photometric(p), targets

    def _warp_target(self, t: dict[str, torch.Tensor], theta: torch.Tensor, grid: torch.Tensor
                     ) -> dict[str, torch.Tensor]:
        height, width = grid.shape[1:3]
        boxes, visible = warp_boxes(t["boxes"], theta, height, width)
        keep = visible >= self.min_visibility
        out = {k: v[keep] if torch.is_tensor(v) and v.ndim and len(v) == len(keep) else v for k, v in t.items()}
        out["boxes"] = boxes[keep]
        if "masks" in t and keep.any():
            masks = t["masks"][keep][None].float()  # (1, n, H, W)
            out["masks"] = F.grid_sample(masks, grid, mode="nearest", align_corners=False)[0].to(t["masks"].dtype)
        return out


def warp_boxes(boxes: torch.Tensor, theta: torch.Tensor, height: int, width: int
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """xyxy pixel boxes (n, 4) moved by the sampling matrix ``theta`` (2, 3) (output -> input, normalized,
    ``align_corners=False``): (enclosing boxes clipped to the image (n, 4), visible fraction (n,))."""
    if len(boxes) == 0:
        return boxes.reshape(0, 4), torch.zeros(0, device=boxes.device)
    scale = torch.tensor([2 / width, 2 / height], dtype=theta.dtype, device=theta.device)
    x1, y1, x2, y2 = boxes.to(theta.device, theta.dtype).unbind(1)
    corners = torch.stack([torch.stack(c, 1) for c in ((x1, y1), (x2, y1), (x1, y2), (x2, y2))], 1)  # (n, 4, 2)
    inv = torch.linalg.inv(theta[:, :2])  # input -> output: u_out = A^-1 (u_in - t)
    moved = (corners * scale - 1 - theta[:, 2]) @ inv.T  # (n, 4, 2) normalized
    moved = (moved + 1) / scale
    lo, hi = moved.amin(1), moved.amax(1)  # (n, 2) each
    full = torch.cat([lo, hi], 1)
    limit = torch.tensor([width, height, width, height], dtype=theta.dtype, device=theta.device)
    clipped = torch.minimum(full.clamp(min=0), limit)
    area = (full[:, 2:] - full[:, :2]).prod(1)
    seen = (clipped[:, 2:] - clipped[:, :2]).clamp(min=0).prod(1)
    visible = torch.where(area > 0, seen / area, torch.zeros_like(area))
    return clipped.to(boxes.device, boxes.dtype), visible.to(boxes.device)


def _flip(targets: Targets, flip: torch.Tensor, dim: int, size: torch.Size) -> Targets:
    if isinstance(targets, torch.Tensor):
        return torch.where(flip.view(-1, 1, 1), targets.flip(dim), targets)
    extent = size[1] if dim == -1 else size[0]
    cols = [0, 2] if dim == -1 else [1, 3]
    for t, f in zip(targets, flip.tolist()):
        if f:
            boxes = t["boxes"].clone()
            boxes[:, cols] = extent - t["boxes"][:, cols[::-1]]
            t["boxes"] = boxes
            if "masks" in t:
                t["masks"] = t["masks"].flip(dim)
    return targets


def _turn(targets: list[dict[str, torch.Tensor]], steps: torch.Tensor, height: int, width: int
          ) -> list[dict[str, torch.Tensor]]:
    """Boxes and masks turned like ``torch.rot90``: a quarter turn sends (x, y) to (y, width - x)."""
    for t, k in zip(targets, steps.tolist()):
        boxes, h, w = t["boxes"], height, width
        for _ in range(k):  # the turned image is h wide and w high
            boxes = torch.stack([boxes[:, 1], w - boxes[:, 2], boxes[:, 3], w - boxes[:, 0]], 1)
            h, w = w, h
        t["boxes"] = boxes
        if "masks" in t and k:
            t["masks"] = torch.rot90(t["masks"], k, (-2, -1))
    return targets


def _warp_semantic(masks: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Semantic masks (B, H, W) by nearest neighbour; pixels from outside the image become IGNORE."""
    shifted = masks[:, None].float() + 1  # 0 marks "outside" after zero padding
    out = F.grid_sample(shifted, grid, mode="nearest", padding_mode="zeros", align_corners=False)[:, 0]
    return torch.where(out == 0, torch.full_like(out, IGNORE + 1), out).sub(1).to(masks.dtype)


def build(cfg: AugmentConfig, pre: Preprocess, data: DataConfig, generator: torch.Generator | None = None,
          min_visibility: float = 0.3) -> BoxAugment | None:
    """The detection / segmentation training augmentation of an ``augment`` section, or None when it does nothing.
    Orientation-sensitive datasets (``data.orientation_sensitive``, digits) refuse flips as in classification."""
    if augment.build(cfg, pre) is None:
        return None
    augment.check(cfg, data)
    return BoxAugment(cfg, pre.mean, pre.std, generator, min_visibility, augment.orientation_sensitive(data))
