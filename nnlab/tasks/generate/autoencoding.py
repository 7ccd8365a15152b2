"""Autoencoders (plain or denoising): a per-pixel reconstruction loss, MSE and PSNR, a grid of originals beside
reconstructions. They have no prior, so they reconstruct but do not sample."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from nnlab.engine.trainer import Logs
from nnlab.tasks.generate.common import Objective, Reconstruction, Sums, no_sampler


class ReconstructionEvaluator:
    """Reconstruction loss, pixel MSE and PSNR over a split, plus the first images for a grid."""

    def __init__(self, rec: Reconstruction, keep: int) -> None:
        self.rec, self.keep = rec, keep
        self.sums = Sums()
        self.shown: list[torch.Tensor] = []
        self.model: nn.Module | None = None

    def update(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        x, _ = batch
        self.model = model
        target = self.rec.target(x)
        logits = model(x)
        recon = torch.sigmoid(logits.float())
        mse = (recon - target).pow(2).flatten(1).mean(1)  # (B,)
        self.sums.add(loss=self.rec.loss(logits, target).expand(len(x)), mse=mse,
                      psnr=10 * torch.log10(1 / mse.clamp_min(1e-10)))
        self.keep_pairs(target, recon)

    def keep_pairs(self, target: torch.Tensor, recon: torch.Tensor) -> None:
        if len(self.shown) < self.keep:
            take = self.keep - len(self.shown)
            self.shown += list(torch.stack([target[:take], recon[:take]], 1).cpu())  # (2, C, H, W) each

    def compute(self) -> dict[str, float]:
        return self.sums.means("loss", "mse", "psnr")


def reconstruction_grid(evaluator: ReconstructionEvaluator, out_dir: Path, split: str, title: str) -> dict[str, Any]:
    """A grid of originals (left) and reconstructions (right)."""
    from nnlab.plots import image_grid_png

    pairs = [img for pair in evaluator.shown for img in pair]
    path = image_grid_png(pairs, out_dir / f"reconstructions_{split}.png", cols=8, title=title)
    return {"count": evaluator.sums.count, "reconstructions_png": str(path)}


class Autoencoding(Objective):
    """Per-pixel BCE (binarized data) or MSE; ``noise_std`` > 0 makes it a denoising autoencoder."""

    can_sample = False

    def loss(self, model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, Logs]:
        target = self.rec.target(x)
        std = self.cfg.noise_std
        if std > 0:  # denoising: corrupt the input in pixel units, reconstruct the clean image
            x = x + torch.randn_like(x) * std / self.rec.std.to(x.device)  # global RNG: saved for resume
        return self.rec.loss(model(x), target), {}

    def evaluator(self) -> ReconstructionEvaluator:
        return ReconstructionEvaluator(self.rec, self.cfg.samples)

    def report(self, evaluator: Any, out_dir: Path, split: str, title: str) -> dict[str, Any]:
        return reconstruction_grid(evaluator, out_dir, split, title)

    def per_image(self, model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        recon = torch.sigmoid(model(x).float())
        return {"mse": (recon - self.rec.target(x)).pow(2).flatten(1).mean(1), "reconstruction": recon}

    def sample(self, model: nn.Module, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        raise no_sampler("autoencoder")
