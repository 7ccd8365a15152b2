"""The VAE's objective and metrics. Convention: nats per image (summed over its pixels, averaged over
images). Training minimizes rec + beta * KL (the negative ELBO when beta = 1); evaluation reports the negative
ELBO (``nelbo`` = ``rec`` + ``kl``), its parts, and the importance-weighted estimate of -log p(x)
(``iwae_nll``, k = ``generate.iw_samples``, on the first ``generate.iw_images`` images of the split)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from nnlab.engine.trainer import Logs
from nnlab.models.generative.vae import VAE
from nnlab.tasks.generate.autoencoding import ReconstructionEvaluator, reconstruction_grid
from nnlab.tasks.generate.common import Objective, Reconstruction, Sums, seeded


class VAEEvaluator(ReconstructionEvaluator):
    """Negative ELBO and its parts over a split (one z per image), the IWAE bound on the first images,
    and originals beside reconstructions (posterior means)."""

    def __init__(self, rec: Reconstruction, keep: int, beta: float, k: int, iw_images: int | None) -> None:
        super().__init__(rec, keep)
        self.beta, self.k, self.iw_left = beta, k, iw_images
        self.gen: torch.Generator | None = None

    def update(self, model: VAE, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        x, _ = batch
        self.model = model
        self.gen = self.gen or seeded(x.device)
        target = self.rec.target(x)
        rec, kl, logits = model.elbo_terms(x, target, self.gen)
        self.sums.add(loss=rec + self.beta * kl, nelbo=rec + kl, rec=rec, kl=kl,
                      mse=(model.mean(logits) - target).pow(2).flatten(1).mean(1))
        take = len(x) if self.iw_left is None else min(self.iw_left, len(x))
        if take > 0 and self.k > 0:
            self.sums.add(iwae_nll=-model.iwae_bound(x[:take], target[:take], self.k, self.gen))
            self.iw_left = None if self.iw_left is None else self.iw_left - take
        self.keep_pairs(target, model.mean(model(x)))

    def compute(self) -> dict[str, float]:
        return self.sums.means("loss", "nelbo", "rec", "kl", "iwae_nll", "mse")


class Variational(Objective):
    """Negative ELBO with a reparameterized sample (global RNG: saved for exact resume)."""

    def loss(self, model: VAE, x: torch.Tensor) -> tuple[torch.Tensor, Logs]:
        rec, kl, _ = model.elbo_terms(x, self.rec.target(x))
        loss = (rec + self.cfg.beta * kl).mean()
        return loss, {"rec": rec.detach().mean(), "kl": kl.detach().mean()}

    def evaluator(self) -> VAEEvaluator:
        return VAEEvaluator(self.rec, self.cfg.samples, self.cfg.beta, self.cfg.iw_samples, self.cfg.iw_images)

    def report(self, evaluator: Any, out_dir: Path, split: str, title: str) -> dict[str, Any]:
        return {**reconstruction_grid(evaluator, out_dir, split, title),
                **super().report(evaluator, out_dir, split, title)}

    def per_image(self, model: VAE, x: torch.Tensor) -> dict[str, torch.Tensor]:
        target = self.rec.target(x)
        rec, kl, _ = model.elbo_terms(x, target, seeded(x.device))
        recon = model.mean(model(x))
        return {"nelbo": rec + kl, "kl": kl, "mse": (recon - target).pow(2).flatten(1).mean(1),
                "reconstruction": recon}
