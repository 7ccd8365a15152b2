"""k-fold cross-validation on the training split (notes: 교차 검증 — choose hyper-parameters on folds of
the training data, never on the test set; then retrain on all training data and test once).

Folds come from scikit-learn's ``KFold`` / ``StratifiedKFold``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

import nnlab
from nnlab.api import DEFAULT_RUNS, build_data, validate
from nnlab.errors import DataError
from nnlab.experiments.common import ConfigLike, mean_std, resolve, with_values


@dataclass
class Fold:
    index: int
    train_size: int
    val_size: int
    val_acc: float
    val_loss: float
    run_dir: Path


@dataclass
class CVResult:
    folds: list[Fold]
    stratified: bool
    refit_dir: Path | None = None
    test: dict[str, float] | None = None  # of the refit on all training data
    summary: dict[str, tuple[float, float]] = field(default_factory=dict)  # metric -> (mean, std)


def make_folds(labels: np.ndarray, k: int, stratified: bool, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, val) index pairs of k folds; every sample is in exactly one val fold."""
    counts = np.bincount(labels)
    smallest = int(counts[counts > 0].min())
    if k < 2:
        raise DataError(f"cross-validation needs at least 2 folds, got {k}")
    if k > smallest:
        raise DataError(f"{k} folds but the smallest class has only {smallest} training samples: some folds "
                        f"would hold none of it; use --folds {smallest} or fewer")
    splitter = (StratifiedKFold if stratified else KFold)(n_splits=k, shuffle=True, random_state=seed)
    return [(np.sort(tr), np.sort(va)) for tr, va in splitter.split(np.zeros(len(labels)), labels)]


def cross_validate(config: ConfigLike, overrides: Sequence[str] = (), folds: int = 5, stratified: bool = True,
                   refit: bool = False, runs_root: str | Path = DEFAULT_RUNS, progress: bool = False,
                   on_fold: Callable[[Fold], None] | None = None) -> CVResult:
    """Train one run per fold (validated on that fold); optionally refit on all and test once."""
    cfg = with_values(resolve(config, overrides), {"data.val_fraction": 0.0})  # the folds are the validation
    validate(cfg)
    splits, _ = build_data(cfg, progress=False)
    pairs = make_folds(splits["train"].labels.numpy(), folds, stratified, cfg.seed)
    result = CVResult([], stratified)
    for i, (tr, va) in enumerate(pairs, start=1):
        run = nnlab.fit(with_values(cfg, {"name": f"{cfg.run_name}_fold{i}"}), runs_root=runs_root,
                        progress=progress, train_indices=tr, val_indices=va)
        val = nnlab.evaluate(run.dir, "val")
        fold = Fold(i, len(tr), len(va), val["acc"], val["loss"], run.dir)
        result.folds.append(fold)
        if on_fold is not None:
            on_fold(fold)
    result.summary = {"val_acc": mean_std([f.val_acc for f in result.folds]),
                      "val_loss": mean_std([f.val_loss for f in result.folds])}
    if refit:
        run = nnlab.fit(with_values(cfg, {"name": f"{cfg.run_name}_refit"}), runs_root=runs_root, progress=progress)
        result.refit_dir, result.test = run.dir, run.test
    return result
