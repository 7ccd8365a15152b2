"""Search results: a trials table (terminal + CSV), metric vs each parameter, best-so-far vs trial."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from nnlab.experiments.common import save_figure
from nnlab.experiments.search_space import Param


def trial_rows(study: optuna.Study, params: list[Param]) -> tuple[list[str], list[list[Any]]]:
    """Header and one row per trial: number, state, value, epochs, then each parameter."""
    header = ["trial", "state", "value", "epochs", *[p.name for p in params]]
    rows = []
    for t in study.trials:
        value = t.value if t.value is not None else _last_reported(t)
        rows.append([t.number, t.state.name.lower(), "" if value is None else round(value, 4),
                     t.user_attrs.get("epochs", ""), *[_show(t.params.get(p.name)) for p in params]])
    return header, rows


def best_summary(study: optuna.Study) -> dict[str, Any] | None:
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    if not done:
        return None
    best = study.best_trial
    return {"trial": best.number, "value": best.value, "params": {k: _show(v) for k, v in best.params.items()},
            "run_dir": best.user_attrs.get("run_dir"), "test_acc": best.user_attrs.get("test_acc")}


def write_report(study: optuna.Study, params: list[Param], out: str | Path, metric: str) -> list[Path]:
    """``trials.csv``, ``search_params.png`` and ``search_history.png`` in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    header, rows = trial_rows(study, params)
    with (out / "trials.csv").open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    (out / "best.json").write_text(json.dumps(best_summary(study), indent=2))
    return [out / "trials.csv", out / "best.json", params_png(study, params, out / "search_params.png", metric),
            history_png(study, out / "search_history.png", metric)]


def params_png(study: optuna.Study, params: list[Param], path: Path, metric: str) -> Path:
    """Metric against each parameter; pruned trials hollow at their last reported value."""
    from nnlab.plots import plt

    fig, axes = plt.subplots(1, len(params), figsize=(4 * len(params), 3.4), squeeze=False)
    for ax, p in zip(axes[0], params):
        for state, style in ((TrialState.COMPLETE, {"c": "C0"}), (TrialState.PRUNED, {"facecolors": "none",
                                                                                       "edgecolors": "C3"})):
            pts = [(t.params[p.name], v) for t in study.trials if t.state == state and p.name in t.params
                   and (v := t.value if t.value is not None else _last_reported(t)) is not None]
            if not pts:
                continue
            xs, ys = zip(*pts)
            if p.kind == "categorical":
                labels = [json.dumps(c) for c in p.choices]
                ax.set_xticks(range(len(labels)), [_show(c) for c in labels], rotation=30)
                xs = [labels.index(x) for x in xs]
            ax.scatter(xs, ys, label=state.name.lower(), **style)
        if p.log:
            ax.set_xscale("log")
        ax.set_xlabel(p.name)
        ax.set_ylabel(metric)
    axes[0][0].legend(fontsize=8)
    return save_figure(fig, path)


def history_png(study: optuna.Study, path: Path, metric: str) -> Path:
    """Each trial's value and the best value found so far, by trial number."""
    from nnlab.plots import plt

    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    fig, ax = plt.subplots(figsize=(6, 3.4))
    if done:
        xs = [t.number for t in done]
        ys = np.array([t.value for t in done])
        best = np.maximum.accumulate(ys) if study.direction.name == "MAXIMIZE" else np.minimum.accumulate(ys)
        ax.scatter(xs, ys, s=14, label="trial")
        ax.step(xs, best, where="post", color="C1", label="best so far")
        ax.legend(fontsize=8)
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    return save_figure(fig, path)


def _last_reported(t: optuna.trial.FrozenTrial) -> float | None:
    return t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else None


def _show(value: Any) -> Any:
    """Categorical values travel as JSON text; show them as values."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return round(value, 6) if isinstance(value, float) else value
