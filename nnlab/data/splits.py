"""Train / validation / test splits: fixed ones from the source, or stratified fractions with a seed."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from nnlab.data.dataset import ImageDataset
from nnlab.errors import DataError


def stratified_indices(labels: torch.Tensor, size: float | int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (rest, taken) with ``size`` (fraction or count) taken, class ratios kept."""
    y = labels.numpy()
    idx = np.arange(len(y))
    counts = np.bincount(y)
    stratify = y if counts[counts > 0].min() >= 2 else None
    try:
        rest, taken = train_test_split(idx, test_size=size, random_state=seed, stratify=stratify)
    except ValueError as e:
        raise DataError(f"cannot split {len(y)} samples: {e}") from None
    return np.sort(rest), np.sort(taken)


def make_splits(splits: dict[str, ImageDataset], val_fraction: float, test_fraction: float,
                train_size: int | None, seed: int) -> dict[str, ImageDataset]:
    """Fill in missing ``test`` / ``val`` splits from ``train`` and optionally subsample ``train``."""
    out = dict(splits)
    if "test" not in out and test_fraction > 0:
        rest, taken = stratified_indices(out["train"].labels, test_fraction, seed)
        out["train"], out["test"] = out["train"].subset(rest), out["train"].subset(taken)
    if "val" not in out and val_fraction > 0:
        rest, taken = stratified_indices(out["train"].labels, val_fraction, seed + 1)
        out["train"], out["val"] = out["train"].subset(rest), out["train"].subset(taken)
    if train_size is not None and train_size < len(out["train"]):
        _, taken = stratified_indices(out["train"].labels, train_size, seed + 2)
        out["train"] = out["train"].subset(taken)
    return out
