"""The Fréchet distance between two Gaussians fitted to feature sets (Heusel et al. 2017, the "FID" when the
features are Inception's): ||mu_a - mu_b||^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2)).

nnlab computes it on the penultimate features of its own MNIST classifier (Inception weights cannot be
downloaded here and are a poor fit for digits); the tests check it against scipy's matrix square root and
torchmetrics' FID with the same feature extractor. The square-root trace uses the symmetric form
tr((S_a^(1/2) S_b S_a^(1/2))^(1/2)) (same eigenvalues as S_a S_b), so only symmetric eigendecompositions run.
Also here: a classifier-based score of generated images (mean confidence, entropy of the predicted classes)
that exposes mode collapse.
"""
from __future__ import annotations

import math

import torch


def gaussian_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D), in float64."""
    f = features.detach().double().flatten(1)
    if len(f) < 2:
        raise ValueError("the Fréchet distance needs at least 2 feature vectors per set")
    return f.mean(0), torch.cov(f.T)


def _psd_sqrt(s: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix (D, D)."""
    vals, vecs = torch.linalg.eigh((s + s.T) / 2)
    return (vecs * vals.clamp_min(0).sqrt()) @ vecs.T


def frechet_from_stats(mu_a: torch.Tensor, cov_a: torch.Tensor, mu_b: torch.Tensor, cov_b: torch.Tensor) -> float:
    """The Fréchet distance of N(mu_a, cov_a) and N(mu_b, cov_b)."""
    root_a = _psd_sqrt(cov_a)
    middle = root_a @ cov_b @ root_a  # (D, D), symmetric PSD
    trace_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp_min(0).sqrt().sum()
    value = (mu_a - mu_b).pow(2).sum() + cov_a.trace() + cov_b.trace() - 2 * trace_sqrt
    return max(float(value), 0.0)


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """The Fréchet distance between Gaussians fitted to two feature sets (N_a, D) and (N_b, D)."""
    return frechet_from_stats(*gaussian_stats(features_a), *gaussian_stats(features_b))


def class_score(logits: torch.Tensor) -> dict[str, float]:
    """How a classifier sees a set of images (N, K logits): ``confidence``, its mean top probability (low for
    blurry or unreal digits), and ``class_entropy``, the entropy in nats of the predicted-class histogram
    (log K when every class is equally frequent, lower under mode collapse), with ``classes_seen``."""
    probs = logits.detach().double().softmax(1)
    counts = torch.bincount(probs.argmax(1), minlength=probs.shape[1]).double()
    freq = counts / counts.sum()
    entropy = -(freq[freq > 0] * freq[freq > 0].log()).sum()
    return {"confidence": float(probs.max(1).values.mean()), "class_entropy": float(entropy),
            "class_entropy_max": math.log(probs.shape[1]), "classes_seen": int((counts > 0).sum())}
