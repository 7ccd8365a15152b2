"""Study: what each regularizer buys on a small training set (notes: Regularization — L1/L2, dropout, batch
normalization, early stopping, data augmentation, noise robustness; plus label smoothing, mixup, CutMix).

The same network and data for every setting; only the named keys change. Test accuracy is measured on the
last weights (early stopping: on the best-validation weights it keeps), the generalization gap as clean
training accuracy minus test accuracy, both in inference mode.
"""
from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnlab.api import RunDir, run_data, validate
from nnlab.config import Config
from nnlab.errors import ConfigError
from nnlab.experiments.common import fmt_ms, mean_std, resolve, save_figure, with_values
from nnlab.experiments.studies.report import (INCONCLUSIVE, NOISE_NOTE, NOT_SUPPORTED, STUDIES, SUPPORTED,
                                              StudyContext, StudyReport, Table, judge)
from nnlab.inference import load_run, outputs

DEFAULT_BASE = "configs/classify/mnist_lenet.yaml"
SETTINGS: list[tuple[str, dict[str, Any]]] = [
    ("nothing", {}),
    ("L2", {"regularize.l2": 5e-4}),
    ("L1", {"regularize.l1": 2e-5}),
    ("dropout", {"model.dropout": 0.3}),
    ("batch norm", {"model.norm": "batch"}),  # needs a model with a `norm` option (lenet5, mlp in the zoo)
    ("augmentation", {"augment.preset": "digits"}),
    ("input noise", {"regularize.noise.input_std": 0.3}),
    ("label smoothing", {"regularize.label_smoothing": 0.1}),
    ("mixup", {"regularize.mixup": 0.2}),
    ("CutMix", {"regularize.cutmix": 1.0}),
    ("early stopping", {"train.early_stopping.patience": 5}),
]


@dataclass
class Result:
    name: str
    values: dict[str, Any]
    test: list[float] = field(default_factory=list)
    train: list[float] = field(default_factory=list)
    val: list[float] = field(default_factory=list)  # validation accuracy of the evaluated weights
    seconds: list[float] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)
    curves: list[dict[str, list[float]]] = field(default_factory=list)  # per seed: acc, val_acc per epoch
    skipped: str | None = None


def setting_config(base: Config, name: str, values: dict[str, Any], seed: int, epochs: int,
                   train_size: int | None) -> Config:
    """The base config with one setting's keys, a seed, and the study's data size and epochs."""
    common = {"name": name.replace(" ", "_"), "seed": seed, "data.split_seed": base.data.split_seed or 0,
              "train.epochs": epochs, "train.checkpoint.keep_last": 0}
    if train_size is not None:
        common["data.train_size"] = train_size
    return with_values(base, {**common, **values})


def _curves(run_dir: Path) -> dict[str, list[float]]:
    with RunDir(run_dir).metrics.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in ("acc", "val_acc", "loss", "val_loss") if rows and k in rows[0]}


def run_setting(ctx: StudyContext, base: Config, name: str, values: dict[str, Any], seeds: int, epochs: int
                ) -> Result:
    res = Result(name, values)
    for seed in range(seeds):
        t0 = time.perf_counter()
        try:
            run = ctx.fit(setting_config(base, name, values, seed, epochs, ctx.train_size))
        except ConfigError as e:  # an option this model does not have (yet): raised before any run is made
            res.skipped = f"skipped: {e}"
            ctx.log(f"{name}: {res.skipped}")
            return res
        res.seconds.append(time.perf_counter() - t0)
        weights = "best" if "train.early_stopping.patience" in values else "last"
        loaded = load_run(run.dir, weights)
        splits = run_data(run.dir, run.config).splits
        for split, into in (("train", res.train), ("val", res.val), ("test", res.test)):
            logits, labels = outputs(loaded, split, splits)
            into.append(float((logits.argmax(1) == labels).float().mean()))
        res.curves.append(_curves(run.dir))
        res.epochs.append(len(res.curves[-1].get("acc", [])))
    ctx.log(f"{name}: test {fmt_ms(res.test)} %, gap {fmt_ms([a - b for a, b in zip(res.train, res.test)])} %")
    return res


@STUDIES.register("regularization")
def study(ctx: StudyContext) -> StudyReport:
    base = resolve(ctx.base or DEFAULT_BASE, ctx.overrides)
    epochs = 60 if ctx.full else 20
    seeds = ctx.n_repeats(3, 5)
    validate(setting_config(base, "nothing", {}, 0, epochs, ctx.train_size))  # a bad base fails, not skips
    results = [run_setting(ctx, base, name, values, seeds, epochs) for name, values in SETTINGS]
    done = [r for r in results if not r.skipped]
    baseline = mean_std(done[0].val)[0]
    good = [r for r in done[1:] if mean_std(r.val)[0] > baseline]
    if good:  # chosen on validation accuracy, never on test accuracy
        merged = {k: v for r in good for k, v in r.values.items()}
        results.append(run_setting(ctx, base, "all good ones", merged, seeds, epochs))
    return _report(ctx, base, results, good, epochs, seeds)


def _report(ctx: StudyContext, base: Config, results: list[Result], good: list[Result], epochs: int,
            seeds: int) -> StudyReport:
    rows = []
    for r in results:
        if r.skipped:
            rows.append([r.name, _keys(r.values), "-", "-", "-", "-", "-", r.skipped])
            continue
        gap = [a - b for a, b in zip(r.train, r.test)]
        rows.append([r.name, _keys(r.values), fmt_ms(r.test), fmt_ms(r.train), fmt_ms(gap), fmt_ms(r.val),
                     f"{mean_std(r.seconds)[0]:.1f}", f"{sum(r.epochs) / len(r.epochs):.0f} epochs"])
    done = [r for r in results if not r.skipped]
    _, verdict = regularization_verdict(done, good)
    size = ctx.train_size or base.data.train_size
    return StudyReport(
        "Regularization ablation", "notes: regularization (L1/L2 penalties, dropout, batch normalization, "
        "early stopping, data augmentation, noise robustness) reduces overfitting when data is scarce.",
        [f"base config {ctx.base or DEFAULT_BASE} ({base.model.name} on {base.data.dataset}, {base.optim.name} "
         f"lr {base.optim.lr}), {size or 'all'} training images, {epochs} epochs, batch {base.train.batch_size}",
         f"{seeds} seeds per setting (same data split); mean ± sample std",
         "test / train accuracy in inference mode on the last weights (early stopping: its best weights); "
         "gap = train - test; val = validation accuracy of those weights",
         "'all good ones' = every setting whose mean validation accuracy beat 'nothing', combined"],
        [Table("Test accuracy, generalization gap and cost", ["setting", "keys", "test acc %", "train acc %",
                                                              "gap %", "val acc %", "s / run", "epochs / note"],
               rows)],
        verdict, [_curve_figure(done, ctx), _bar_figure(done, ctx)])


def regularization_verdict(done: list[Result], good: list[Result]) -> tuple[str, str]:
    """Outcome and sentence for "regularization helps on scarce data": supported when some setting's test
    accuracy beats the baseline's (``done[0]``) beyond the noise, not supported when every setting is worse
    beyond it, inconclusive otherwise."""
    outcomes = {r.name: judge(r.test, done[0].test) for r in done[1:]}
    better = [name for name, o in outcomes.items() if o == SUPPORTED]
    if better:
        outcome = SUPPORTED
    elif outcomes and all(o == NOT_SUPPORTED for o in outcomes.values()):
        outcome = NOT_SUPPORTED
    else:
        outcome = INCONCLUSIVE
    best = max(done, key=lambda r: mean_std(r.test)[0])
    return outcome, (f"Without regularization the network reaches {100 * mean_std(done[0].test)[0]:.2f}% test "
                     f"accuracy. Better beyond the noise: {', '.join(better) or 'none'}. Best: {best.name} "
                     f"({fmt_ms(best.test)} %). That regularization helps here is {outcome} {NOISE_NOTE}. "
                     "'All good ones' combines the settings whose validation accuracy beat the baseline's: "
                     f"{', '.join(r.name for r in good) or 'none, so it was not run'}.")


def _keys(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items()) or "-"


def _curve_figure(results: list[Result], ctx: StudyContext) -> Path:
    import numpy as np

    from nnlab.plots import plt

    cols = 4
    rows = -(-len(results) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False, sharey=True)
    for ax in axes.flat:
        ax.axis("off")
    for ax, r in zip(axes.flat, results):
        ax.axis("on")
        for key, style in (("acc", "-"), ("val_acc", "--")):
            series = [c[key] for c in r.curves if key in c]
            n = min(len(s) for s in series)
            mean = 100 * np.mean([s[:n] for s in series], axis=0)
            ax.plot(range(1, n + 1), mean, style, label="train (augmented)" if key == "acc" else "val")
        ax.set_title(r.name, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
    axes.flat[0].set_ylabel("accuracy %")
    axes.flat[0].legend(fontsize=7)
    return save_figure(fig, ctx.out / "regularization_curves.png")


def _bar_figure(results: list[Result], ctx: StudyContext) -> Path:
    from nnlab.plots import plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    names = [r.name for r in results]
    test = [mean_std(r.test) for r in results]
    gap = [mean_std([a - b for a, b in zip(r.train, r.test)]) for r in results]
    for ax, stats, label in ((axes[0], test, "test accuracy %"), (axes[1], gap, "train - test gap %")):
        ax.bar(range(len(names)), [100 * m for m, _ in stats], yerr=[100 * s for _, s in stats], capsize=3)
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
        ax.set_ylabel(label)
    lo = min(100 * (m - s) for m, s in test)
    axes[0].set_ylim(max(0, lo - 1), 100)
    return save_figure(fig, ctx.out / "regularization_bars.png")
