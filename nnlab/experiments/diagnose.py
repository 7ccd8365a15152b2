"""Read a run's learning curves and say whether it under-fits, fits well or over-fits (a little or
strongly), with the numbers and the notes' advice (notes: Underfitting vs Overfitting; little overfitting —
train longer / deeper model; strong overfitting — regularization, early stopping, dropout)."""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnlab.api import RunDir
from nnlab.errors import UserError

ADVICE = {
    "underfitting": "the model does not fit even the training data: use a bigger or deeper model, train longer, "
                    "check the learning rate (notes: Underfitting — 모델이 학습이 덜 된 경우)",
    "good fit": "training and validation agree and validation no longer degrades: keep these settings",
    "overfitting a little": "validation follows training with a small gap: train longer or make the model "
                            "deeper (notes: little overfitting — model을 더 깊게 / 트레이닝을 너무 적게한 케이스)",
    "overfitting strongly": "validation has turned away from training: add regularization (weight decay, "
                            "dropout, augmentation) and stop early (notes: strong overfitting — "
                            "Regularization, Early stopping, Dropout)",
}


@dataclass
class Thresholds:
    min_train_acc: float = 0.9  # below: under-fitting
    little_gap: float = 0.03  # train_acc - val_acc above this: over-fitting a little
    strong_gap: float = 0.10  # ... above this: strongly
    strong_loss_rise: float = 0.20  # val loss risen this fraction above its minimum: strongly
    patience: int = 3  # for the early-stopping what-if


@dataclass
class Diagnosis:
    verdict: str
    advice: str
    numbers: dict[str, float | int]
    notes: list[str] = field(default_factory=list)


def read_curves(run_dir: str | Path) -> dict[str, np.ndarray]:
    """Columns of a run's ``metrics.csv`` as arrays."""
    path = RunDir(run_dir).metrics
    if not path.is_file():
        raise UserError(f"{run_dir} has no metrics.csv (is it an nnlab run directory?)")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise UserError(f"{path} holds no epochs yet")
    return {k: np.array([float(r[k]) if r[k] not in ("", None) else np.nan for r in rows]) for k in rows[0]}


def diagnose(curves: dict[str, np.ndarray], th: Thresholds | None = None) -> Diagnosis:
    """Classify learning curves (columns loss, acc, val_loss, val_acc per epoch)."""
    th = th or Thresholds()
    missing = [c for c in ("loss", "acc", "val_loss", "val_acc") if c not in curves]
    if missing:
        raise UserError(f"diagnosis needs training and validation curves; missing {', '.join(missing)} "
                        "(train with a validation split: data.val_fraction > 0)")
    acc, val_acc, val_loss = curves["acc"], curves["val_acc"], curves["val_loss"]
    n = len(acc)
    best = int(np.nanargmax(val_acc))
    low = int(np.nanargmin(val_loss))
    gap = float(acc[-1] - val_acc[-1])
    rise = float((val_loss[-1] - val_loss[low]) / max(val_loss[low], 1e-12))
    nums = {"epochs": n, "train_acc": float(acc[-1]), "val_acc": float(val_acc[-1]), "gap": gap,
            "best_val_acc": float(val_acc[best]), "best_epoch": best + 1, "min_val_loss": float(val_loss[low]),
            "min_val_loss_epoch": low + 1, "val_loss_rise": rise}
    if gap >= th.strong_gap or (rise >= th.strong_loss_rise and low < n - 1):
        verdict = "overfitting strongly"
    elif acc[-1] < th.min_train_acc and gap < th.little_gap:
        verdict = "underfitting"
    elif gap >= th.little_gap:
        verdict = "overfitting a little"
    else:
        verdict = "good fit"
    return Diagnosis(verdict, ADVICE[verdict], nums, _early_stopping_notes(val_acc, best, th.patience))


def diagnose_run(run_dir: str | Path, th: Thresholds | None = None) -> Diagnosis:
    return diagnose(read_curves(run_dir), th)


def _early_stopping_notes(val_acc: np.ndarray, best: int, patience: int) -> list[str]:
    n = len(val_acc)
    if best == n - 1:
        return [f"validation accuracy was still at its best at the last epoch ({n}): early stopping would not "
                "have helped; training longer might"]
    stop = min(best + patience, n - 1)  # 0-based epoch at which patience runs out
    notes = [f"best validation accuracy {val_acc[best]:.4f} at epoch {best + 1}; the final epoch reached "
             f"{val_acc[-1]:.4f}"]
    if stop < n - 1:
        notes.append(f"early stopping (patience {patience}) would have stopped at epoch {stop + 1}, saving "
                     f"{n - 1 - stop} of {n} epochs with the same best checkpoint")
    else:
        notes.append(f"early stopping (patience {patience}) would not have stopped before the end")
    return notes
