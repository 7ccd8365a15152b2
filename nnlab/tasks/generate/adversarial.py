"""The GAN's two-player objective, the task that owns two optimizers: each batch steps the discriminator
("d") on real and generated images, then the generator ("g") through the discriminator's judgement.

``gan_loss: standard``: the discriminator's binary cross-entropy (real -> 1, fake -> 0; ``label_smoothing``
s makes the real target 1 - s, one-sided as in Salimans et al. 2016) and the non-saturating generator loss
-log D(G(z)) (Goodfellow et al. 2014). ``gan_loss: wgan-gp``: the critic's D(fake) - D(real) plus
``gp_weight`` * (||grad D(x_hat)|| - 1)^2 on random interpolates (Gulrajani et al. 2017); generator -D(G(z)).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nnlab.engine.trainer import Logs, StepFn
from nnlab.models.generative.dcgan import DCGAN
from nnlab.tasks.generate.common import Objective, Sums, seeded


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Mean (||grad_x critic(x)||_2 - 1)^2 at random points between real and fake images."""
    t = torch.rand(len(real), 1, 1, 1, device=real.device)  # global RNG: saved for resume
    mixed = (t * real + (1 - t) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


class GANEvaluator:
    """The two losses and the discriminator's mean belief that real / generated images are real, on fixed
    noise (so ``nnlab eval`` repeats the saved numbers)."""

    def __init__(self, objective: "Adversarial") -> None:
        self.objective, self.sums = objective, Sums()
        self.gen: torch.Generator | None = None
        self.model: nn.Module | None = None

    def update(self, model: DCGAN, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        x = batch[0]
        self.model = model
        if self.gen is None:
            self.gen = seeded(x.device)
        real = self.objective.rec.target(x)
        fake = model(model.noise(len(x), x.device, self.gen))
        d_real, d_fake = model.discriminator(real).float(), model.discriminator(fake).float()
        d_loss, g_loss = self.objective.d_loss(d_real, d_fake), self.objective.g_loss(d_fake)
        self.sums.add(loss=g_loss.expand(len(x)), d_loss=d_loss.expand(len(x)),
                      d_real=torch.sigmoid(d_real), d_fake=torch.sigmoid(d_fake))

    def compute(self) -> dict[str, float]:
        return self.sums.means("loss", "d_loss", "d_real", "d_fake")


class Adversarial(Objective):
    manual = True
    parts = ("d", "g")

    def d_loss(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
        """The discriminator's loss (without the gradient penalty) from its scores (B,)."""
        if self.cfg.gan_loss == "wgan-gp":
            return d_fake.mean() - d_real.mean()
        real_label = torch.full_like(d_real, 1.0 - self.cfg.label_smoothing)
        return (F.binary_cross_entropy_with_logits(d_real, real_label)
                + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))

    def g_loss(self, d_fake: torch.Tensor) -> torch.Tensor:
        """The generator's loss: non-saturating -log D(G(z)), or -D(G(z)) for the Wasserstein critic."""
        if self.cfg.gan_loss == "wgan-gp":
            return -d_fake.mean()
        return F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))

    def manual_step(self, model: DCGAN, x: torch.Tensor, step: StepFn) -> tuple[torch.Tensor, Logs]:
        real = self.rec.target(x)  # (B, C, H, W) in [0, 1]
        fake = model(model.noise(len(x), x.device))  # global RNG: saved for resume
        d, logs = model.discriminator, {}
        d_loss = self.d_loss(d(real).float(), d(fake.detach()).float())
        if self.cfg.gan_loss == "wgan-gp":
            gp = gradient_penalty(d, real, fake.detach())
            d_loss, logs = d_loss + self.cfg.gp_weight * gp, {"gp": gp.detach()}
        step("d", d_loss)
        g_loss = self.g_loss(d(fake).float())
        step("g", g_loss)
        return g_loss.detach(), {"d_loss": d_loss.detach(), **logs}

    def evaluator(self) -> GANEvaluator:
        return GANEvaluator(self)

    def per_image(self, model: DCGAN, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The discriminator's probability that each image is real."""
        return {"p_real": torch.sigmoid(model.discriminator(self.rec.target(x)).float())}

