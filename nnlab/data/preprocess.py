"""The preprocessing a run applies to every image: channels, size, resize mode and normalization.

It is saved in the run so that ``predict`` and deployment apply exactly what training saw.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from nnlab.data.imageio import load_image


@dataclass
class Preprocess:
    channels: int
    height: int
    width: int
    resize_mode: str
    mean: list[float]  # per channel, in [0, 1] units
    std: list[float]

    @classmethod
    def fit(cls, images: torch.Tensor, resize_mode: str = "squash", normalize: bool = True) -> "Preprocess":
        """Mean and std per channel of a uint8 (N, C, H, W) training set (or 0 / 1 when not normalizing)."""
        c, h, w = images.shape[1:]
        if normalize:
            x = images[:20000].double() / 255  # enough for the statistics; bounded cost
            mean = x.mean(dim=(0, 2, 3)).tolist()
            std = x.std(dim=(0, 2, 3)).clamp_min(1e-6).tolist()
        else:
            mean, std = [0.0] * c, [1.0] * c
        return cls(c, h, w, resize_mode, mean, std)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def scale_shift(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(x_uint8 * scale + shift) == (x / 255 - mean) / std, each of shape (1, C, 1, 1)."""
        mean, std = torch.tensor(self.mean), torch.tensor(self.std)
        return (1 / (255 * std)).view(1, -1, 1, 1), (-mean / std).view(1, -1, 1, 1)

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        scale, shift = self.scale_shift()
        return images.float() * scale.to(images.device) + shift.to(images.device)

    def pixels(self, x: torch.Tensor) -> torch.Tensor:
        """The inverse of ``normalize``: normalized (B, C, H, W) back to pixel values in [0, 1] (clamped)."""
        mean = torch.tensor(self.mean, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, -1, 1, 1)
        return (x.float() * std + mean).clamp(0, 1)

    def load_files(self, paths: Sequence[str | Path]) -> torch.Tensor:
        """Decode, convert, resize and normalize image files: float (N, C, H, W)."""
        arrays = [load_image(p, self.channels, self.height, self.width, self.resize_mode) for p in paths]
        return self.normalize(torch.from_numpy(np.stack(arrays)))
