"""Variational autoencoder (Kingma & Welling 2014; notes: a VAE defines an intractable density p(x) and
optimizes a lower bound on log p(x), the ELBO).

The encoder gives a diagonal Gaussian q(z|x) = N(mu, diag(exp(logvar))); a sample z = mu + sigma * eps
(the reparameterization trick: the randomness is an input, so gradients reach mu and sigma) goes through the
decoder, a Bernoulli (binarized pixels, logits) or Gaussian (grey pixels: mean = sigmoid(logits), one learned
sigma per channel) likelihood p(x|z). Prior p(z) = N(0, I).

Conventions: every log-density here is in nats, summed over the pixels of one image (B,). The ELBO is
E_q[log p(x|z)] - beta * KL(q(z|x) || p(z)); ``beta`` = 1 is the bound, beta != 1 is beta-VAE's objective.
The importance-weighted bound (Burda et al. 2016) log 1/k sum_i p(x, z_i) / q(z_i|x) is >= the ELBO and
tightens towards log p(x) as k grows.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from nnlab.models.generative.autoencoder import check_coder, conv_coder, mlp_coder
from nnlab.models.generative.registry import GENERATIVE
from nnlab.models.layers import check_choice

LOG_2PI = math.log(2 * math.pi)


def kl_normal(mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor | float = 0.0,
              logvar_p: torch.Tensor | float = 0.0) -> torch.Tensor:
    """KL(N(mu_q, var_q) || N(mu_p, var_p)) of diagonal Gaussians, summed over the last dim (B, D) -> (B,):
    1/2 sum [logvar_p - logvar_q + (var_q + (mu_q - mu_p)^2) / var_p - 1]."""
    mu_p = torch.as_tensor(mu_p, dtype=mu_q.dtype, device=mu_q.device)
    logvar_p = torch.as_tensor(logvar_p, dtype=mu_q.dtype, device=mu_q.device)
    terms = logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p).pow(2)) / logvar_p.exp() - 1
    return 0.5 * terms.sum(-1)


def normal_log_prob(x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor | float = 0.0) -> torch.Tensor:
    """log N(x; mu, var), summed over the last dim: (..., D) -> (...)."""
    logvar = torch.as_tensor(logvar, dtype=x.dtype, device=x.device)
    return -0.5 * (LOG_2PI + logvar + (x - mu).pow(2) / logvar.exp()).sum(-1)


class VAE(nn.Module):
    """``encode`` (B, C, H, W) -> mu, logvar (B, latent); ``decode`` (B, latent) -> logits (B, C, H, W)."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, latent: int, in_chans: int,
                 likelihood: str = "bernoulli") -> None:
        super().__init__()
        self.encoder, self.decoder, self.latent, self.likelihood = encoder, decoder, latent, likelihood
        # Gaussian decoder: one learned log-sigma per channel (a Bernoulli decoder has no extra parameter)
        self.log_sigma = nn.Parameter(torch.full((in_chans,), -2.0)) if likelihood == "gaussian" else None

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).float().chunk(2, dim=1)  # (B, latent) each
        return mu, logvar.clamp(-12, 8)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction's logits from the posterior mean (no sampling): what ``predict`` shows."""
        return self.decode(self.encode(x)[0])

    def log_likelihood(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """log p(x|z) in nats per image (B,), ``target`` in [0, 1] pixel units (B, C, H, W)."""
        logits = logits.float()
        if self.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).sum(1)
        log_sigma = self.log_sigma.view(1, -1, 1, 1).expand_as(target)
        return normal_log_prob(target.flatten(1), torch.sigmoid(logits).flatten(1), 2 * log_sigma.flatten(1))

    def mean(self, logits: torch.Tensor) -> torch.Tensor:
        """The decoder's mean image in [0, 1] (both likelihoods put it through a sigmoid)."""
        return torch.sigmoid(logits.float())

    def sample_latent(self, mu: torch.Tensor, logvar: torch.Tensor, k: int = 1,
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """z = mu + sigma * eps, k draws per image: (k, B, latent)."""
        eps = torch.randn((k, *mu.shape), device=mu.device, dtype=mu.dtype, generator=generator)
        return mu + (0.5 * logvar).exp() * eps

    def elbo_terms(self, x: torch.Tensor, target: torch.Tensor,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-log p(x|z) for one z ~ q(z|x) and KL(q(z|x) || p(z)), each (B,), plus the reconstruction logits."""
        mu, logvar = self.encode(x)
        z = self.sample_latent(mu, logvar, 1, generator)[0]  # (B, latent)
        logits = self.decode(z)
        return -self.log_likelihood(logits, target), kl_normal(mu, logvar), logits

    def iwae_bound(self, x: torch.Tensor, target: torch.Tensor, k: int,
                   generator: torch.Generator | None = None, chunk: int = 50) -> torch.Tensor:
        """The k-sample importance-weighted lower bound on log p(x), per image (B,); k = 1 is the ELBO."""
        mu, logvar = self.encode(x)
        weights = []
        for start in range(0, k, chunk):
            z = self.sample_latent(mu, logvar, min(chunk, k - start), generator)  # (k', B, latent)
            logits = self.decode(z.flatten(0, 1))  # (k' B, C, H, W)
            tgt = target.expand(z.shape[0], *target.shape).flatten(0, 1)
            log_px = self.log_likelihood(logits, tgt).view(z.shape[:2])  # (k', B)
            weights.append(log_px + normal_log_prob(z, 0.0) - normal_log_prob(z, mu, logvar))
        return torch.logsumexp(torch.cat(weights), 0) - math.log(k)  # (B,)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n images (decoder means) from z ~ p(z): (n, C, H, W) in [0, 1]."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent, device=device, generator=generator)
        return self.mean(self.decode(z))


@GENERATIVE.register("vae")
def vae(*, in_chans: int, input_size: tuple[int, int], kind: str = "mlp", hidden: list[int] | None = None,
        latent: int = 20, activation: str = "relu", likelihood: str = "bernoulli") -> VAE:
    """An MLP (default hidden [256]) or convolutional VAE with a Bernoulli or Gaussian decoder."""
    hidden = check_coder(kind, hidden, latent, activation)
    check_choice("likelihood", likelihood, ("bernoulli", "gaussian"))
    build = mlp_coder if kind == "mlp" else conv_coder
    enc, dec = build(in_chans, tuple(input_size), hidden, 2 * latent, latent, activation)
    return VAE(enc, dec, latent, in_chans, likelihood)
