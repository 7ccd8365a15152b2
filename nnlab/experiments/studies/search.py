"""Study: grid vs random search with the same budget (notes: Grid Search 와 Random Search 있지만, Random 이
성능 더 좋음; Bergstra & Bengio 2012): when one of two parameters does not matter, a 3x3 grid tries only 3
values of the one that does, random search tries 9."""
from __future__ import annotations


from optuna.trial import TrialState

from nnlab.experiments import search as searching
from nnlab.experiments.common import fmt_ms, mean_std, save_figure
from nnlab.experiments.studies.report import (NOISE_NOTE, STUDIES, StudyContext, StudyReport, Table, digits_config,
                                              judge)

# optim.lr matters; train.eval_batch_size only changes how validation is batched: it cannot matter.
def _space(side: int) -> dict:
    lrs = [round(10 ** (-3 + 3 * i / (side - 1)), 6) for i in range(side)]
    sizes = [int(64 * 2 ** (4 * i / (side - 1))) for i in range(side)]
    return {"optim.lr": {"type": "float", "low": 1e-3, "high": 1.0, "log": True, "grid": lrs},
            "train.eval_batch_size": {"type": "int", "low": 64, "high": 1024, "grid": sizes}}


@STUDIES.register("search")
def study(ctx: StudyContext) -> StudyReport:
    side, epochs = (4, 8) if ctx.full else (3, 3)
    budget, repeats = side * side, ctx.n_repeats(3, 5)
    found: dict[str, list[float]] = {"grid": [], "random": []}
    distinct: dict[str, list[int]] = {"grid": [], "random": []}
    points: dict[str, list[tuple[float, float]]] = {"grid": [], "random": []}
    for rep in range(repeats):
        for sampler in ("grid", "random"):
            cfg = digits_config(f"search_{sampler}_{rep}", rep, epochs, optim={"name": "sgd"})
            spec = searching.prepare(cfg, _space(side), sampler=sampler, trials=budget, seed=rep, prune=False,
                                     out=ctx.out / f"{sampler}_{rep}")
            study = searching.search(spec, on_trial=None)
            done = [t for t in study.trials if t.state == TrialState.COMPLETE]
            found[sampler].append(study.best_value)
            distinct[sampler].append(len({round(t.params["optim.lr"], 9) for t in done}))
            points[sampler] += [(t.params["optim.lr"], t.value) for t in done]
            ctx.log(f"repeat {rep + 1}/{repeats} {sampler}: best val acc {study.best_value:.4f}, "
                    f"{distinct[sampler][-1]} distinct learning rates")
    rows = [[s, budget, f"{mean_std(distinct[s])[0]:.1f}", fmt_ms(found[s])] for s in ("grid", "random")]
    _, verdict = search_verdict(found, distinct, side)
    return StudyReport(
        "Grid vs random search", "notes: \"Grid Search 와 Random Search 있지만, Random 이 성능 더 좋음\" — with the "
        "same budget, random search explores more values of the parameters that matter.",
        [f"scikit-learn digits, MLP [64], plain SGD, {epochs} epochs per trial, no pruning",
         f"space: optim.lr log-uniform in [1e-3, 1] (matters), train.eval_batch_size in [64, 1024] (cannot "
         f"matter: it only batches validation); grid {side}x{side}, random {budget} trials (Optuna samplers)",
         f"{repeats} repeats (training seed and sampler seed = repeat); objective: best val accuracy"],
        [Table("Best validation accuracy found (%)", ["sampler", "trials", "distinct lr tried", "best val acc"],
               rows)],
        verdict, [_figure(points, ctx)])


def search_verdict(found: dict[str, list[float]], distinct: dict[str, list[int]], side: int) -> tuple[str, str]:
    """The outcome for "random search finds better settings than a grid of the same budget" and its sentence;
    a tie is not support."""
    g, r = mean_std(found["grid"])[0], mean_std(found["random"])[0]
    wins = sum(b > a for a, b in zip(found["grid"], found["random"]))
    outcome = judge(found["random"], found["grid"])
    return outcome, (f"With {side * side} trials each, random search found a best validation accuracy of "
                     f"{100 * r:.2f}% vs {100 * g:.2f}% for the grid (random better in {wins} of "
                     f"{len(found['random'])} repeats), having tried {mean_std(distinct['random'])[0]:.0f} learning "
                     f"rates instead of {side}. The claim is {outcome} here {NOISE_NOTE}.")


def _figure(points: dict, ctx: StudyContext):
    from nnlab.plots import plt

    fig, ax = plt.subplots(figsize=(6, 3.4))
    for sampler, marker in (("random", "o"), ("grid", "x")):
        xs, ys = zip(*points[sampler])
        ax.scatter(xs, [100 * y for y in ys], marker=marker, label=sampler, alpha=0.7)
    ax.set_xscale("log")
    ax.set_xlabel("optim.lr")
    ax.set_ylabel("val accuracy %")
    ax.legend(fontsize=8)
    return save_figure(fig, ctx.out / "search.png")
