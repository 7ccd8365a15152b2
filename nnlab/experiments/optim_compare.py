"""``nnlab optim compare``: the same model on the same data with each optimizer over several seeds.

Answers the notes' "is SGD better than Adam?" with numbers: loss/accuracy curves (mean and spread over seeds),
test accuracy and wall time, in a markdown + PNG report. Every run is an ordinary ``nnlab.fit`` run.
"""
from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

import nnlab
from nnlab import config as cfgmod
from nnlab.api import Run, RunDir
from nnlab.errors import UserError
from nnlab.experiments.common import ConfigLike, fmt_ms, markdown_table, mean_std, member, resolve, save_figure
from nnlab.optim import OPTIMIZERS, check_options

CURVES = ("loss", "val_loss", "acc", "val_acc")


@dataclass
class OptimizerRuns:
    name: str
    lr: float
    runs: list[Run] = field(default_factory=list)
    curves: dict[str, list[list[float]]] = field(default_factory=dict)  # metric -> per seed, per epoch
    train_seconds: list[float] = field(default_factory=list)  # summed epoch times (metrics.csv)
    wall_seconds: list[float] = field(default_factory=list)  # the whole fit, data loading and testing included

    @property
    def test_acc(self) -> list[float]:
        return [r.test["acc"] for r in self.runs if r.test]


def optimizer_config(cfg: cfgmod.Config, name: str, lr: float | None, seed: int) -> cfgmod.Config:
    """``cfg`` with optimizer ``name`` at ``lr`` (None: the config's lr when it names this optimizer, else the
    table's default); the config's optimizer-specific options are kept only for its own optimizer. Schedule,
    weight decay, groups and the data split stay the same for every optimizer and seed."""
    raw = cfgmod.to_dict(member(cfg, f"{cfg.run_name}_{name}_s{seed}", seed))
    same = name == cfg.optim.name
    raw["optim"] = {"name": name, "lr": lr if lr is not None else (cfg.optim.lr if same else None),
                    "weight_decay": cfg.optim.weight_decay, "no_decay_bias_norm": cfg.optim.no_decay_bias_norm,
                    "lr_mult": dict(cfg.optim.lr_mult), "schedule": cfgmod.to_dict(cfg.optim.schedule),
                    **(cfg.optim.args if same else {})}
    return cfgmod.from_dict(raw)


def compare(config: ConfigLike, optimizers: Sequence[str], seeds: int = 3, lrs: dict[str, float] | None = None,
            overrides: Sequence[str] = (), runs_root: str | Path = "runs", progress: bool = False,
            log: Callable[[str], None] = print,
            on_result: Callable[[list[OptimizerRuns]], None] | None = None) -> list[OptimizerRuns]:
    """Train ``config`` with every optimizer for seeds ``cfg.seed .. cfg.seed + seeds - 1``;
    ``on_result(results so far)`` after each optimizer (e.g. to rewrite the report as results come in)."""
    cfg = resolve(config, overrides)
    lrs = dict(lrs or {})
    for name in optimizers:
        check_options(name, ())
    if seeds < 1:
        raise UserError("--seeds must be at least 1")
    if set(lrs) - set(optimizers):
        raise UserError(f"--lr names optimizers not compared: {', '.join(sorted(set(lrs) - set(optimizers)))}")
    plans = {n: [optimizer_config(cfg, n, lrs.get(n), cfg.seed + s) for s in range(seeds)] for n in optimizers}
    for plan in plans.values():  # every config is checked before the first run starts
        nnlab.api.validate(plan[0])
    results = []
    for name, plan in plans.items():
        res = OptimizerRuns(name, plan[0].optim.lr or OPTIMIZERS[name].lr)
        for c in plan:
            t0 = time.perf_counter()
            run = nnlab.fit(c, runs_root=runs_root, progress=progress)
            res.wall_seconds.append(time.perf_counter() - t0)
            rows = list(csv.DictReader(RunDir(run.dir).metrics.open()))
            for key in CURVES:
                if rows and key in rows[0]:
                    res.curves.setdefault(key, []).append([float(r[key]) for r in rows])
            res.train_seconds.append(sum(float(r["time"]) for r in rows))
            res.runs.append(run)
        log(f"{name} (lr {res.lr:g}): test acc {fmt_ms(res.test_acc)} %, {np.mean(res.train_seconds):.1f} s/run")
        results.append(res)
        if on_result is not None:
            on_result(results)
    return results


def summary_rows(results: Sequence[OptimizerRuns]) -> tuple[list[str], list[list[str]]]:
    header = ["optimizer", "lr", "final train loss", "final val acc %", "test acc %", "train s/run", "wall s/run"]
    rows = []
    for r in results:
        last = {k: [seed[-1] for seed in v] for k, v in r.curves.items()}
        rows.append([r.name, f"{r.lr:g}", fmt_ms(last.get("loss", [float("nan")]), percent=False),
                     fmt_ms(last["val_acc"]) if "val_acc" in last else "-", fmt_ms(r.test_acc) if r.test_acc else "-",
                     f"{np.mean(r.train_seconds):.1f}", f"{np.mean(r.wall_seconds):.1f}"])
    return header, rows


def curves_png(results: Sequence[OptimizerRuns], path: Path) -> Path:
    """Train / validation loss and accuracy per epoch: mean line, min-max band over seeds."""
    from nnlab.plots import plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for ax, key in zip(axes.T.flat, CURVES):
        for r in results:
            if key not in r.curves:
                continue
            n = min(len(c) for c in r.curves[key])
            arr = np.array([c[:n] for c in r.curves[key]])  # (seeds, epochs)
            epochs = np.arange(1, n + 1)
            line, = ax.plot(epochs, arr.mean(0), label=r.name)
            ax.fill_between(epochs, arr.min(0), arr.max(0), color=line.get_color(), alpha=0.2)
        ax.set_title(key.replace("_", " "), fontsize=9)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        if "loss" in key:
            ax.set_yscale("log")
    axes[0, 0].legend(fontsize=8)
    return save_figure(fig, path)


def write_report(results: Sequence[OptimizerRuns], out: Path, config_name: str) -> Path:
    """``report.md`` and ``curves.png`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    curves_png(results, out / "curves.png")
    header, rows = summary_rows(results)
    first = results[0].runs[0].config
    seeds = len(results[0].runs)
    best = max(results, key=lambda r: mean_std(r.test_acc)[0] if r.test_acc else -1.0)
    text = "\n".join([
        f"# Optimizer comparison: {config_name}", "",
        f"- {first.data.dataset}, model {first.model.name}, {first.train.epochs} epochs, batch "
        f"{first.train.batch_size}, schedule {first.optim.schedule.name}; {seeds} seeds from {first.seed} "
        "(same data split for every run)",
        "- each optimizer at its own learning rate (the table's default unless given); test accuracy of the "
        "best-validation checkpoint; mean ± std over seeds; curves: mean and min-max band", "",
        markdown_table(header, rows), "",
        f"Highest mean test accuracy: **{best.name}** ({fmt_ms(best.test_acc)} %).", "",
        "![curves](curves.png)", ""])
    path = out / "report.md"
    path.write_text(text)
    return path
