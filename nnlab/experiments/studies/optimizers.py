"""Study: SGD / momentum vs adaptive methods — the generalization gap (notes: Momentum, Adam; adaptive
methods fit the training set fast but can generalize worse, Wilson et al. 2017, arXiv:1705.08292)."""
from __future__ import annotations

from nnlab.experiments.common import fmt_ms, mean_std, save_figure
from nnlab.experiments.optim_compare import compare
from nnlab.experiments.studies.report import (NOISE_NOTE, STUDIES, StudyContext, StudyReport, Table, all_of,
                                              digits_config, judge)
from nnlab.inference import load_run, outputs


def compare_optimizers(ctx: StudyContext, names: list[str], epochs: int, repeats: int,
                       train_size: int | None) -> dict[str, dict[str, list[float]]]:
    """Train the same model with each optimizer (its default learning rate) over several seeds with
    ``nnlab optim compare``; final-weight train and test accuracy per seed."""
    base = digits_config("opt", 0, epochs, optim={"name": names[0], "lr": None}, data={"train_size": train_size})
    results: dict[str, dict[str, list[float]]] = {}
    for compared in compare(base, names, seeds=repeats, runs_root=ctx.out / "runs", log=ctx.log):
        res = results.setdefault(compared.name, {"train": [], "test": []})
        for fitted in compared.runs:
            run = load_run(fitted.dir, "last")
            for split in ("train", "test"):
                logits, labels = outputs(run, split)
                res[split].append(float((logits.argmax(1) == labels).float().mean()))
        ctx.log(f"{compared.name}: final weights: train {fmt_ms(res['train'])} %, test {fmt_ms(res['test'])} %")
    return results


@STUDIES.register("optimizers")
def study(ctx: StudyContext) -> StudyReport:
    names = ["sgd", "momentum", "nesterov", "adam"]
    epochs, train_size = (60, None) if ctx.full else (30, 300)
    repeats = ctx.n_repeats(3, 5)
    res = compare_optimizers(ctx, names, epochs, repeats, train_size)
    gaps = {n: [a - b for a, b in zip(r["train"], r["test"])] for n, r in res.items()}
    rows = [[n, fmt_ms(r["train"]), fmt_ms(r["test"]), fmt_ms(gaps[n])] for n, r in res.items()]
    _, verdict = optimizer_verdict(res)
    return StudyReport(
        "Optimizers and the generalization gap",
        "SGD with momentum vs adaptive methods (Adam): adaptive methods reach low training loss quickly but may "
        "generalize worse (notes: Momentum / Adam; Wilson et al. 2017).",
        [f"scikit-learn digits, {train_size or 'all'} training images, MLP [64], batch 32, {epochs} epochs, "
         "each optimizer at its default learning rate (nnlab optim table)",
         f"{repeats} seeds; final weights; gap = train accuracy - test accuracy"],
        [Table("Train / test accuracy and gap (%)", ["optimizer", "train acc", "test acc", "gap"], rows)],
        verdict, [_figure(res, gaps, ctx)])


def optimizer_verdict(res: dict[str, dict[str, list[float]]]) -> tuple[str, str]:
    """Outcome and sentence for "Adam generalizes worse than the best SGD-family optimizer": lower test accuracy
    and a larger train-test gap, both beyond the noise."""
    gaps = {n: [a - b for a, b in zip(r["train"], r["test"])] for n, r in res.items()}
    best_sgd = max(("sgd", "momentum", "nesterov"), key=lambda n: mean_std(res[n]["test"])[0])
    outcome = all_of(judge(res[best_sgd]["test"], res["adam"]["test"]), judge(gaps["adam"], gaps[best_sgd]))
    sgd_test, adam_test = mean_std(res[best_sgd]["test"])[0], mean_std(res["adam"]["test"])[0]
    sgd_gap, adam_gap = mean_std(gaps[best_sgd])[0], mean_std(gaps["adam"])[0]
    return outcome, (f"Best SGD-family optimizer: {best_sgd}, test {100 * sgd_test:.2f}% (gap {100 * sgd_gap:.2f} "
                     f"points); Adam: test {100 * adam_test:.2f}% (gap {100 * adam_gap:.2f} points). The claim that "
                     f"adaptive methods generalize worse is {outcome} on this small problem {NOISE_NOTE}.")


def _figure(res: dict, gaps: dict, ctx: StudyContext):
    from nnlab.plots import plt

    fig, ax = plt.subplots(figsize=(6, 3.4))
    names = list(res)
    for i, (key, label) in enumerate((("train", "train"), ("test", "test"))):
        ms = [mean_std(res[n][key]) for n in names]
        ax.bar([j + 0.4 * i for j in range(len(names))], [100 * m for m, _ in ms], 0.4,
               yerr=[100 * s for _, s in ms], label=label)
    ax.set_xticks([j + 0.2 for j in range(len(names))], names)
    ax.set_ylabel("accuracy %")
    ax.set_ylim(80, 100.5)
    ax.legend(fontsize=8)
    return save_figure(fig, ctx.out / "optimizers.png")
