"""Model ensembles (notes: bagging vs boosting; model ensembles — average the outputs of n models).

- bagging: each member trains on a bootstrap sample of the training split (Breiman 1996), soft or hard vote.
- boosting: multi-class AdaBoost, SAMME (Zhu et al. 2009) with resampling: each round's weak learner trains
  on a sample drawn with the current sample weights, so the loss needs no per-sample weights.
- average: the outputs of existing runs (or snapshots of one run) on their common test split.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, Sequence

import numpy as np
import torch

import nnlab
from nnlab.api import DEFAULT_RUNS, RunDir, build_data, run_data, validate
from nnlab.errors import UserError
from nnlab.experiments.common import ConfigLike, member, resolve
from nnlab.inference import LoadedRun, load_run, outputs

Voting = Literal["soft", "hard"]


@dataclass
class Member:
    name: str
    test_acc: float
    weight: float = 1.0  # SAMME's alpha for boosting
    train_error: float | None = None  # weighted training error (boosting)


@dataclass
class EnsembleResult:
    method: str
    members: list[Member]
    test_acc: float
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------- voting
def soft_vote(probs: torch.Tensor) -> torch.Tensor:
    """(M, N, K) member probabilities -> (N,) class of the highest mean probability."""
    return probs.mean(0).argmax(1)


def hard_vote(preds: torch.Tensor, num_classes: int, weights: Sequence[float] | None = None) -> torch.Tensor:
    """(M, N) member predictions -> (N,) class with the most (weighted) votes; ties go to the lower class."""
    w = torch.ones(len(preds)) if weights is None else torch.as_tensor(weights, dtype=torch.float64)
    votes = torch.zeros(preds.shape[1], num_classes, dtype=torch.float64)  # (N, K)
    for m in range(len(preds)):
        votes[torch.arange(preds.shape[1]), preds[m]] += float(w[m])
    return votes.argmax(1)


def bootstrap_sample(n: int, rng: np.random.Generator) -> np.ndarray:
    """n indices drawn with replacement (about 63% distinct samples)."""
    return rng.integers(0, n, size=n)


# ------------------------------------------------------------------------------------------- SAMME
def samme_update(weights: np.ndarray, miss: np.ndarray, num_classes: int) -> tuple[float, np.ndarray, float]:
    """One SAMME round: weighted error err, learner weight alpha = log((1-err)/err) + log(K-1), and the
    new normalized sample weights w_i * exp(alpha * [miss_i])."""
    w = weights / weights.sum()
    err = float(np.sum(w * miss))
    if err <= 0:  # a perfect learner: nothing left to re-weight
        return 1.0, w, 0.0
    alpha = float(np.log((1 - err) / err) + np.log(num_classes - 1))
    new = w * np.exp(alpha * miss)
    return alpha, new / new.sum(), err


def samme_predict(preds: torch.Tensor, alphas: Sequence[float], num_classes: int) -> torch.Tensor:
    """(M, N) learner predictions -> (N,) argmax_k sum_m alpha_m [h_m(x) = k]."""
    return hard_vote(preds, num_classes, alphas)


# ------------------------------------------------------------------------------------------- ensembles
def bagging(config: ConfigLike, overrides: Sequence[str] = (), members: int = 5, voting: Voting = "soft",
            runs_root: str | Path = DEFAULT_RUNS, progress: bool = False,
            on_member: Callable[[Member], None] | None = None) -> EnsembleResult:
    """Train ``members`` runs, each on its own bootstrap sample, and vote on the test split."""
    cfg = _checked(config, overrides, members, "members")
    splits, _ = build_data(cfg, progress=False)
    rng = np.random.default_rng(cfg.seed)
    logits, result = [], EnsembleResult(f"bagging ({voting} voting)", [], 0.0)
    for m in range(members):
        run = nnlab.fit(member(cfg, f"{cfg.run_name}_bag{m + 1}", cfg.seed + m), runs_root=runs_root,
                        progress=progress, train_indices=bootstrap_sample(len(splits["train"]), rng))
        out, labels = outputs(load_run(run.dir), "test", splits)
        logits.append(out)
        _add(result, Member(run.dir.name, _acc(out.argmax(1), labels)), on_member)
    result.test_acc = _acc(_vote(torch.stack(logits), voting), labels)
    return result


def boosting(config: ConfigLike, overrides: Sequence[str] = (), rounds: int = 5,
             runs_root: str | Path = DEFAULT_RUNS, progress: bool = False,
             on_member: Callable[[Member], None] | None = None) -> EnsembleResult:
    """SAMME with resampling: round m trains on n samples drawn with the current weights."""
    cfg = _checked(config, overrides, rounds, "rounds")
    splits, _ = build_data(cfg, progress=False)
    y_train, k = splits["train"].labels.numpy(), len(splits["train"].classes)
    weights = np.full(len(y_train), 1 / len(y_train))
    rng = np.random.default_rng(cfg.seed)
    preds, alphas, result = [], [], EnsembleResult("boosting (SAMME)", [], 0.0)
    for m in range(rounds):
        sample = rng.choice(len(y_train), size=len(y_train), replace=True, p=weights)
        run = nnlab.fit(member(cfg, f"{cfg.run_name}_boost{m + 1}", cfg.seed + m), runs_root=runs_root,
                        progress=progress, train_indices=sample)
        loaded = load_run(run.dir)
        miss = (outputs(loaded, "train", splits)[0].argmax(1).numpy() != y_train).astype(float)
        alpha, new_weights, err = samme_update(weights, miss, k)
        if err >= 1 - 1 / k:
            result.notes.append(f"round {m + 1}: weighted error {err:.3f} is no better than chance; stopped")
            break
        test_out, labels = outputs(loaded, "test", splits)
        preds.append(test_out.argmax(1))
        alphas.append(alpha)
        _add(result, Member(run.dir.name, _acc(preds[-1], labels), alpha, err), on_member)
        weights = new_weights
        if err <= 0:
            result.notes.append(f"round {m + 1}: no training error left; stopped")
            break
    if not preds:
        raise UserError("boosting: the first weak learner is no better than chance; train it longer")
    result.test_acc = _acc(samme_predict(torch.stack(preds), alphas, k), labels)
    return result


def average(run_specs: Sequence[str], voting: Voting = "soft") -> EnsembleResult:
    """Ensemble of existing runs; ``RUN_DIR@WEIGHTS`` picks a checkpoint (best, last, epoch-N)."""
    if len(run_specs) < 2:
        raise UserError("an ensemble needs at least 2 runs (RUN_DIR or RUN_DIR@epoch-N)")
    runs = [_load_spec(spec) for spec in run_specs]
    ref, ref_test = runs[0], run_data(runs[0].dir, runs[0].config).splits["test"]
    logits, result = [], EnsembleResult(f"average ({voting} voting)", [], 0.0)
    for spec, run in zip(run_specs, runs):
        test = run_data(run.dir, run.config).splits["test"]
        if run.classes != ref.classes or not torch.equal(test.images, ref_test.images) \
                or not torch.equal(test.labels, ref_test.labels):
            raise UserError(f"{spec} was tested on a different test set than {run_specs[0]} (other data, "
                            "classes or data.split_seed); ensemble members must share the test split")
        out, labels = outputs(run, "test", {"test": test})
        logits.append(out)
        result.members.append(Member(spec, _acc(out.argmax(1), labels)))
    result.test_acc = _acc(_vote(torch.stack(logits), voting), labels)
    return result


def snapshots(run_dir: str | Path) -> list[str]:
    """``RUN_DIR@epoch-N`` specs of every snapshot a run kept (train.checkpoint.keep_last)."""
    return [f"{run_dir}@{p.stem}" for p in RunDir(run_dir).snapshots()]


def _load_spec(spec: str) -> LoadedRun:
    run_dir, _, weights = spec.partition("@")
    weights = weights or "best"
    if weights not in ("best", "last") and not RunDir(run_dir).checkpoint(weights).is_file():
        raise UserError(f"{run_dir} has no checkpoint {weights}.pt (snapshots: "
                        f"{', '.join(s.partition('@')[2] for s in snapshots(run_dir)) or 'none'})")
    return load_run(run_dir, weights)


def _checked(config: ConfigLike, overrides: Sequence[str], count: int, what: str):
    if count < 2:
        raise UserError(f"an ensemble needs at least 2 {what}, got {count}")
    cfg = resolve(config, overrides)
    validate(cfg)
    return cfg


def _vote(logits: torch.Tensor, voting: Voting) -> torch.Tensor:
    """(M, N, K) member logits -> (N,) ensemble prediction."""
    if voting == "soft":
        return soft_vote(logits.softmax(2))
    return hard_vote(logits.argmax(2), logits.shape[2])


def _acc(pred: torch.Tensor, labels: torch.Tensor) -> float:
    return float((pred == labels).float().mean())


def _add(result: EnsembleResult, m: Member, on_member: Callable[[Member], None] | None) -> None:
    result.members.append(m)
    if on_member is not None:
        on_member(m)
