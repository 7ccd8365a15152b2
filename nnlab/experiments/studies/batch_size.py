"""Study: small vs large batches at equal epochs (notes: batch-size를 작게 쓰는 편이 좋다 — large batches
converge to sharp minima that generalize worse; Keskar et al. 2017, arXiv:1609.04836)."""
from __future__ import annotations

import torch

from nnlab.api import run_data
from nnlab.experiments.common import fmt_ms, mean_std, save_figure
from nnlab.experiments.studies.report import (NOISE_NOTE, STUDIES, StudyContext, StudyReport, Table, all_of,
                                              digits_config, judge)
from nnlab.inference import LoadedRun, load_run, outputs

EPSILON, DIRECTIONS = 0.05, 8


def sharpness(run: LoadedRun, epsilon: float = EPSILON, directions: int = DIRECTIONS, seed: int = 0) -> float:
    """Mean training-loss increase when every weight tensor W moves by epsilon * ||W|| along a random unit
    direction (a filter-normalized probe of the minimum's flatness, after Li et al. 2018)."""
    splits = run_data(run.dir, run.config).splits
    loss = lambda: float(torch.nn.functional.cross_entropy(*outputs(run, "train", splits)))  # noqa: E731
    base = loss()
    gen = torch.Generator().manual_seed(seed)
    params = [p for p in run.model.parameters() if p.ndim > 1]
    rises = []
    for _ in range(directions):
        saved = [p.detach().clone() for p in params]
        with torch.no_grad():
            for p in params:
                u = torch.randn(p.shape, generator=gen)
                p.add_(epsilon * p.norm() * u / u.norm())
        rises.append(loss() - base)
        with torch.no_grad():
            for p, s in zip(params, saved):
                p.copy_(s)
    return sum(rises) / len(rises)


@STUDIES.register("batch-size")
def study(ctx: StudyContext) -> StudyReport:
    sizes = [8, 32, 128, 512] if ctx.full else [16, 256]
    epochs, base_lr, ref = (40, 0.02, sizes[0]) if ctx.full else (15, 0.02, sizes[0])
    repeats = ctx.n_repeats(3, 5)
    settings = [(b, base_lr) for b in sizes] + [(b, base_lr * b / ref) for b in sizes[1:]]
    rows, points = [], []
    for b, lr in settings:
        acc, gap, sharp = [], [], []
        for seed in range(repeats):
            cfg = digits_config(f"bs{b}_lr{lr:g}", seed, epochs, optim={"name": "sgd", "lr": lr},
                                train={"batch_size": b})
            run = ctx.fit(cfg)
            loaded = load_run(run.dir, "last")
            logits, labels = outputs(loaded, "train")
            train_acc = float((logits.argmax(1) == labels).float().mean())
            test_logits, test_labels = outputs(loaded, "test")
            test_acc = float((test_logits.argmax(1) == test_labels).float().mean())
            acc.append(test_acc)
            gap.append(train_acc - test_acc)
            sharp.append(sharpness(loaded))
        scaled = "linear-scaled" if lr != base_lr else "fixed"
        rows.append([b, f"{lr:g} ({scaled})", fmt_ms(acc), fmt_ms(gap), fmt_ms(sharp, percent=False)])
        points.append((b, scaled, mean_std(acc), mean_std(sharp), acc, sharp))
        ctx.log(f"batch {b} lr {lr:g}: test {fmt_ms(acc)} %, sharpness {fmt_ms(sharp, percent=False)}")
    _, verdict = batch_verdict(points[0], points[len(sizes) - 1])
    return StudyReport(
        "Batch size and generalization", "notes: \"batch-size를 작게 쓰는 편이 좋다. batch-size가 크면 model을 "
        "over-fit\" (small batches generalize better; large batches converge to sharp minima, arXiv:1609.04836).",
        [f"scikit-learn digits (1797 images, 8x8; 20% test, 10% val), MLP [64], plain SGD, {epochs} epochs",
         f"batch sizes {sizes}; lr {base_lr} fixed, and scaled linearly from batch {ref}",
         f"{repeats} seeds per setting; mean ± sample std",
         f"sharpness: mean train-loss rise over {DIRECTIONS} random directions of relative size {EPSILON} "
         "(last weights)"],
        [Table("Test accuracy, generalization gap and sharpness", ["batch", "lr", "test acc %", "train-test gap %",
                                                                   "sharpness"], rows)],
        verdict, [_figure(points, ctx)])


def batch_verdict(small: tuple, large: tuple) -> tuple[str, str]:
    """Outcome and sentence for "small batches generalize better (higher test accuracy) and sit in flatter
    minima (lower sharpness)" from the fixed-lr points ``(batch, _, _, _, accuracies, sharpnesses)``."""
    acc, sharp = judge(small[4], large[4]), judge(large[5], small[5])
    outcome = all_of(acc, sharp)
    (sa, ss), (la, ls) = (mean_std(small[4])[0], mean_std(small[5])[0]), (mean_std(large[4])[0], mean_std(large[5])[0])
    return outcome, (f"At equal epochs and a fixed learning rate, batch {small[0]} reaches {100 * sa:.2f}% test "
                     f"accuracy vs {100 * la:.2f}% for batch {large[0]} (accuracy claim {acc}), with sharpness "
                     f"{ss:.4f} vs {ls:.4f} (sharp-minimum claim {sharp}); overall {outcome} {NOISE_NOTE}. At "
                     "equal epochs a large batch also takes far fewer steps; the linearly scaled rows show how much "
                     "of the gap a larger learning rate closes.")


def _figure(points: list, ctx: StudyContext):
    from nnlab.plots import plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for scaled, marker in (("fixed", "o"), ("linear-scaled", "s")):
        pts = [p for p in points if p[1] == scaled]
        xs = [p[0] for p in pts]
        axes[0].errorbar(xs, [100 * p[2][0] for p in pts], [100 * p[2][1] for p in pts], marker=marker, label=scaled)
        axes[1].errorbar(xs, [p[3][0] for p in pts], [p[3][1] for p in pts], marker=marker, label=scaled)
    for ax, label in zip(axes, ("test accuracy %", "sharpness (loss rise)")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("batch size")
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    return save_figure(fig, ctx.out / "batch_size.png")
