"""The VAE's terms against their closed forms and torch.distributions; the importance-weighted bound's
direction; the reparameterization keeps gradients; a one-batch overfit."""
from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from nnlab.errors import ConfigError
from nnlab.models.generative import GENERATIVE
from nnlab.models.generative.vae import kl_normal, normal_log_prob


def test_kl_of_two_gaussians_is_the_closed_form_and_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu_q, lv_q, mu_p, lv_p = (torch.randn(5, 3, generator=g, dtype=torch.float64) for _ in range(4))
    ours = kl_normal(mu_q, lv_q, mu_p, lv_p)
    sq, sp = (0.5 * lv_q).exp(), (0.5 * lv_p).exp()
    closed = (torch.log(sp / sq) + (sq ** 2 + (mu_q - mu_p) ** 2) / (2 * sp ** 2) - 0.5).sum(1)
    torch.testing.assert_close(ours, closed)
    torch.testing.assert_close(ours, kl_divergence(Normal(mu_q, sq), Normal(mu_p, sp)).sum(1))
    torch.testing.assert_close(kl_normal(mu_q, lv_q), kl_divergence(Normal(mu_q, sq), Normal(0.0, 1.0)).sum(1))
    assert torch.all(kl_normal(mu_q, lv_q, mu_q, lv_q).abs() < 1e-12)  # KL(q || q) = 0


def test_log_probs_match_torch_distributions():
    x, mu, lv = torch.randn(3, 4, dtype=torch.float64).unbind(0)
    torch.testing.assert_close(normal_log_prob(x, mu, lv), Normal(mu, (0.5 * lv).exp()).log_prob(x).sum())
    model = GENERATIVE.build("vae", in_chans=1, input_size=(2, 2), hidden=[4], latent=2)
    logits, target = torch.randn(3, 1, 2, 2), torch.randint(0, 2, (3, 1, 2, 2)).float()
    ref = torch.distributions.Bernoulli(logits=logits).log_prob(target).flatten(1).sum(1)
    torch.testing.assert_close(model.log_likelihood(logits, target), ref)


def _binary_batch(n: int = 16, size: int = 4) -> torch.Tensor:
    return (torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(1)) > 0.5).float()


def test_importance_weighted_bound_is_above_the_elbo_and_tightens_with_k():
    torch.manual_seed(0)
    model = GENERATIVE.build("vae", in_chans=1, input_size=(4, 4), hidden=[16], latent=3)
    x = _binary_batch()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        elbo = torch.stack([-sum(model.elbo_terms(x, x, gen)[:2]) for _ in range(200)]).mean()
        bounds = [float(torch.stack([model.iwae_bound(x, x, k, gen) for _ in range(20)]).mean()) for k in (1, 10, 100)]
    assert abs(bounds[0] - float(elbo)) < 0.1 * abs(float(elbo)) ** 0.5  # k = 1 is the ELBO
    assert float(elbo) < bounds[1] < bounds[2]  # log p(x) >= L_100 >= L_10 >= L_1 = ELBO
    assert bounds[2] < 0  # a lower bound on log p(x) of binary data


def test_reparameterization_carries_gradients_to_the_encoder():
    model = GENERATIVE.build("vae", in_chans=1, input_size=(4, 4), hidden=[8], latent=2)
    x = _binary_batch(4)
    rec, kl, _ = model.elbo_terms(x, x)
    (rec + kl).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())


@pytest.mark.parametrize("kind, likelihood", [("mlp", "bernoulli"), ("conv", "gaussian")])
def test_vae_overfits_one_batch(kind, likelihood):
    torch.manual_seed(0)
    model = GENERATIVE.build("vae", in_chans=1, input_size=(8, 8), kind=kind, hidden=[32] if kind == "mlp"
                             else [8, 16], latent=4, likelihood=likelihood)
    x = _binary_batch(8, 8)
    opt = torch.optim.Adam(model.parameters(), 0.01)
    losses = []
    for _ in range(100):
        rec, kl, _ = model.elbo_terms(x, x)
        loss = (rec + kl).mean()
        losses.append(float(loss.detach()))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert losses[-1] < 0.35 * losses[0]  # the negative ELBO of 8 images falls to a third or less


def test_samples_and_bad_options():
    model = GENERATIVE.build("vae", in_chans=2, input_size=(6, 6), latent=3)
    images = model.sample(5, torch.Generator().manual_seed(0))
    assert images.shape == (5, 2, 6, 6) and 0 <= images.min() and images.max() <= 1
    with pytest.raises(ConfigError, match="likelihood"):
        GENERATIVE.build("vae", in_chans=1, input_size=(8, 8), likelihood="poisson")
    assert math.isfinite(float(model.log_likelihood(torch.zeros(1, 2, 6, 6), torch.ones(1, 2, 6, 6))))
