"""Study: one model vs bagging vs averaging independently trained models (notes: Model Ensembles — 모델을
n개 학습시켜서 결과의 평균을 이용하자; Bagging — bootstrapping으로 학습된 여러 모델들의 결과를 취합)."""
from __future__ import annotations

from nnlab.experiments.common import fmt_ms, mean_std, save_figure
from nnlab.experiments.ensemble import average, bagging
from nnlab.experiments.studies.report import (NOISE_NOTE, STUDIES, StudyContext, StudyReport, Table, digits_config,
                                              judge)


@STUDIES.register("ensemble")
def study(ctx: StudyContext) -> StudyReport:
    members, epochs, train_size = (10, 30, None) if ctx.full else (5, 10, 500)
    repeats = ctx.n_repeats(3, 5)
    acc: dict[str, list[float]] = {"single model": [], "bagging (soft vote)": [], "average of independent runs": []}
    member_acc: dict[str, list[float]] = {k: [] for k in acc}
    runs_root = ctx.out / "runs"
    for rep in range(repeats):
        base = 100 * rep
        cfg = lambda name, seed: digits_config(name, seed, epochs, data={"train_size": train_size})  # noqa: E731
        singles = [ctx.fit(cfg(f"single{rep}", base + m)) for m in range(members)]
        acc["single model"].append(singles[0].test["acc"])
        member_acc["single model"].append(singles[0].test["acc"])
        avg = average([str(r.dir) for r in singles])
        acc["average of independent runs"].append(avg.test_acc)
        member_acc["average of independent runs"].append(mean_std([m.test_acc for m in avg.members])[0])
        bag = bagging(cfg(f"bag{rep}", base), members=members, runs_root=runs_root)
        acc["bagging (soft vote)"].append(bag.test_acc)
        member_acc["bagging (soft vote)"].append(mean_std([m.test_acc for m in bag.members])[0])
        ctx.log(f"repeat {rep + 1}/{repeats}: single {singles[0].test['acc']:.4f}, average {avg.test_acc:.4f}, "
                f"bagging {bag.test_acc:.4f}")
    rows = [[k, 1 if k == "single model" else members, fmt_ms(member_acc[k]), fmt_ms(v)] for k, v in acc.items()]
    _, verdict = ensemble_verdict(acc, members)
    return StudyReport(
        "Ensembles: one model vs bagging vs averaging",
        "notes: \"Model Ensembles: 모델을 n개 학습시켜서 결과의 평균을 이용하자\"; bagging = models on bootstrap "
        "samples, results combined by voting or averaging.",
        [f"scikit-learn digits, {train_size or 'all'} training images, MLP [64], momentum SGD lr 0.05, {epochs} "
         f"epochs; {members} members; soft voting (mean of softmax)",
         f"{repeats} repeats with different seeds; the test split is fixed (data.split_seed = 0)"],
        [Table("Test accuracy (%)", ["method", "models", "member test acc", "ensemble test acc"], rows)],
        verdict, [_figure(acc, ctx)])


def ensemble_verdict(acc: dict[str, list[float]], members: int) -> tuple[str, str]:
    """Outcome and sentence for "an ensemble beats one model" (the better of averaging and bagging, by mean)."""
    single, bag, avg = (acc[k] for k in ("single model", "bagging (soft vote)", "average of independent runs"))
    best = max((avg, bag), key=lambda v: mean_std(v)[0])
    outcome = judge(best, single)
    return outcome, (f"Averaging {members} independently trained models gives {100 * mean_std(avg)[0]:.2f}% test "
                     f"accuracy and bagging {100 * mean_std(bag)[0]:.2f}%, against {100 * mean_std(single)[0]:.2f}% "
                     f"for one model. That ensembling helps is {outcome} here {NOISE_NOTE}; bagging members see "
                     "only ~63% distinct samples each, so they are individually weaker than full-data members.")


def _figure(acc: dict, ctx: StudyContext):
    from nnlab.plots import plt

    fig, ax = plt.subplots(figsize=(6, 3.4))
    names = list(acc)
    ms = [mean_std(acc[n]) for n in names]
    ax.bar(range(len(names)), [100 * m for m, _ in ms], yerr=[100 * s for _, s in ms], color=["C0", "C1", "C2"])
    ax.set_xticks(range(len(names)), [n.replace(" (", "\n(").replace(" of ", "\nof ") for n in names], fontsize=8)
    ax.set_ylabel("test accuracy %")
    lo = min(100 * m - 100 * s for m, s in ms)
    ax.set_ylim(max(0, lo - 2), 100)
    return save_figure(fig, ctx.out / "ensemble.png")
