"""Bootstrap confidence intervals for test metrics: resample the test predictions with replacement and
read the interval off the percentiles of the resampled metric (notes: bootstrapping; Efron 1979)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from nnlab.errors import UserError
from nnlab.inference import load_run, outputs

Statistic = Callable[[np.ndarray], np.ndarray]  # (R, N) resample indices -> (R,) metric values


def resample_indices(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(R, N) indices drawn with replacement."""
    return rng.integers(0, n, size=(resamples, n))


def percentile_interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap(statistics: dict[str, Statistic], n: int, resamples: int = 1000, confidence: float = 0.95,
              seed: int = 0, chunk: int = 200) -> dict[str, dict[str, float]]:
    """Percentile intervals of each statistic over ``resamples`` bootstrap samples of ``n`` items."""
    if not 0 < confidence < 1:
        raise UserError(f"confidence must be in (0, 1), got {confidence}")
    if resamples < 10:
        raise UserError(f"use at least 10 resamples, got {resamples}")
    if n < 2:
        raise UserError(f"bootstrapping needs at least 2 samples, got {n}")
    rng = np.random.default_rng(seed)
    values: dict[str, list[np.ndarray]] = {name: [] for name in statistics}
    for start in range(0, resamples, chunk):
        idx = resample_indices(n, min(chunk, resamples - start), rng)  # (R, N)
        for name, stat in statistics.items():
            values[name].append(stat(idx))
    out = {}
    for name, stat in statistics.items():
        samples = np.concatenate(values[name])
        low, high = percentile_interval(samples, confidence)
        out[name] = {"value": float(stat(np.arange(n)[None])[0]), "low": low, "high": high,
                     "std": float(samples.std(ddof=1))}
    return out


def classification_statistics(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, Statistic]:
    """Accuracy, mean cross-entropy and macro F1 of predictions, as functions of resample indices."""
    y = labels.numpy()
    pred = logits.argmax(1).numpy()
    correct = (pred == y).astype(float)
    nll = torch.nn.functional.cross_entropy(logits, labels, reduction="none").numpy()
    k = logits.shape[1]

    def macro_f1(idx: np.ndarray) -> np.ndarray:
        p, t = pred[idx], y[idx]  # (R, N)
        f1 = []
        for c in range(k):
            tp = ((p == c) & (t == c)).sum(1)
            denom = (p == c).sum(1) + (t == c).sum(1)
            f1.append(np.where(denom > 0, 2 * tp / np.maximum(denom, 1), np.nan))
        return np.nanmean(np.stack(f1), axis=0)

    return {"acc": lambda idx: correct[idx].mean(1), "loss": lambda idx: nll[idx].mean(1), "macro_f1": macro_f1}


def run_intervals(run_dir: str | Path, split: str = "test", resamples: int = 1000, confidence: float = 0.95,
                  seed: int = 0) -> dict[str, dict[str, float]]:
    """Bootstrap intervals of a run's metrics on one split (its best weights)."""
    logits, labels = outputs(load_run(run_dir), split)
    return bootstrap(classification_statistics(logits, labels), len(labels), resamples, confidence, seed)
