"""The Fréchet distance against scipy's matrix square root and torchmetrics' FID on the same features; the
classifier score sees mode collapse."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import linalg

from nnlab.metrics.frechet import class_score, frechet_distance


def _scipy_frechet(a: np.ndarray, b: np.ndarray) -> float:
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root))


def _sets(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(200, 6, generator=g, dtype=torch.float64)
    b = torch.randn(150, 6, generator=g, dtype=torch.float64) @ torch.randn(6, 6, generator=g,
                                                                              dtype=torch.float64) + 0.5
    return a, b


def test_a_set_against_itself_is_zero():
    a, _ = _sets()
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


def test_matches_scipy_on_two_fixed_sets():
    a, b = _sets()
    assert frechet_distance(a, b) == pytest.approx(_scipy_frechet(a.numpy(), b.numpy()), rel=1e-8)
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-8)  # symmetric


def test_matches_torchmetrics_fid_with_a_custom_feature_extractor():
    fid_mod = pytest.importorskip("torchmetrics.image.fid")

    class Flatten(torch.nn.Module):
        num_features = 6

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.flatten(1).double()  # the "features": the 2x3 pixels themselves

    a, b = _sets()
    fid = fid_mod.FrechetInceptionDistance(feature=Flatten(), normalize=True)
    fid.update(a.view(-1, 1, 2, 3), real=True)
    fid.update(b.view(-1, 1, 2, 3), real=False)
    assert frechet_distance(a, b) == pytest.approx(float(fid.compute()), rel=1e-5)


def test_class_score_sees_mode_collapse():
    diverse = torch.eye(10).repeat(5, 1) * 10  # every class equally often, confidently
    collapsed = torch.zeros(50, 10)
    collapsed[:, 3] = 10
    good, bad = class_score(diverse), class_score(collapsed)
    assert good["class_entropy"] == pytest.approx(math.log(10)) and good["classes_seen"] == 10
    assert bad["class_entropy"] == 0 and bad["classes_seen"] == 1 and bad["confidence"] > 0.99
