"""Study: transfer learning with few labels (notes: Transfer Learning — 데이터가 적으면 낮은 층은 고정하고 마지막
층만 새로 학습, 데이터가 많으면 더 많은 층을 fine-tune). Pretrain on MNIST digits 0-4, then learn digits 5-9
from 10, 50 or 200 labelled images per class: (a) from scratch, (b) frozen features + new head, (c) full
fine-tuning from the pretrained weights with a new head."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nnlab.errors import UserError
from nnlab.experiments.common import fmt_ms, mean_std, save_figure
from nnlab.experiments.studies.report import NOISE_NOTE, STUDIES, StudyContext, StudyReport, Table, judge

# MNIST: $NNLAB_MNIST, else ../shared/datasets/mnist from the working directory or from the repository
MNIST_PLACES = [Path("../shared/datasets/mnist"), Path(__file__).resolve().parents[3].parent / "shared/datasets/mnist"]
MODES = ("scratch", "frozen + new head", "fine-tune")
# the frozen "features" per model: LeNet-5's convolutions (its fully connected layers train with the new head;
# freezing up to classifier.4 as well, a linear probe, reached only 62-69% in one run), ResNet-20's stages
FEATURES = {"lenet5": "features", "resnet20": "up_to:layer3"}


def find_mnist(study: str) -> Path:
    """MNIST's folder: $NNLAB_MNIST, else ../shared/datasets/mnist from here or from the repository."""
    places = [Path(os.environ["NNLAB_MNIST"])] if os.environ.get("NNLAB_MNIST") else MNIST_PLACES
    found = [p for p in places if p.is_dir()]
    if not found:
        raise UserError(f"the {study} study needs MNIST in {' or '.join(map(str, places))} (or set NNLAB_MNIST)")
    return found[0].resolve()


def transfer_config(name: str, data: dict[str, Any], model: str, seed: int, epochs: int, per_class: int | None,
                    classes: list[int], **model_opts: Any) -> dict[str, Any]:
    size = None if per_class is None else per_class * len(classes)
    batch = 32 if size is None or size > 64 else 16
    return {"name": name, "seed": seed,
            "data": {**data, "classes": classes, "train_size": size, "split_seed": seed, "val_fraction": 0.05},
            "model": {"name": model, **model_opts}, "optim": {"name": "adam", "lr": 1e-3},
            "train": {"epochs": epochs, "batch_size": batch, "checkpoint": {"keep_last": 0}}}


def run_transfer(ctx: StudyContext, data: dict[str, Any], model: str, shots: tuple[int, ...], pre_epochs: int,
                 steps: int, repeats: int) -> tuple[list[list[Any]], dict[tuple[str, int], list[float]], float]:
    """Pretrain once on classes 0-4, then every (mode, shots, seed) on 5-9. ``steps``: optimizer steps per
    fine-tuning run (epochs = steps / batches per epoch), so small label sets train as long as large ones."""
    source, target = [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]
    pre = ctx.fit(transfer_config("pretrain_0to4", {**data, "train_size": None}, model, 0, pre_epochs, None, source))
    ctx.log(f"pretrained {model} on digits 0-4: test accuracy {pre.test['acc']:.2%}")
    acc: dict[tuple[str, int], list[float]] = {}
    for n in shots:
        batches = max(1, -(-n * len(target) // (16 if n * len(target) <= 64 else 32)))
        epochs = max(2, steps // batches)
        for mode in MODES:
            opts: dict[str, Any] = {}
            if mode != "scratch":
                opts = {"weights": str(pre.dir), "reset_head": True}
            if mode == "frozen + new head":
                opts["freeze"] = [FEATURES[model]]
            for seed in range(repeats):
                run = ctx.fit(transfer_config(f"{mode.split()[0]}_{n}_s{seed}", data, model, seed, epochs, n, target,
                                              **opts))
                acc.setdefault((mode, n), []).append(run.test["acc"])
            ctx.log(f"{n:4d}/class {mode:18s}: test {fmt_ms(acc[(mode, n)])} %")
    rows = [[n, *(fmt_ms(acc[(m, n)]) for m in MODES)] for n in shots]
    return rows, acc, pre.test["acc"]


@STUDIES.register("transfer")
def study(ctx: StudyContext) -> StudyReport:
    data = {"dataset": "mnist", "path": str(find_mnist("transfer"))}
    shots = (10, 50, 200)
    pre_epochs, steps, repeats = (3, 300, ctx.n_repeats(2, 3)) if ctx.full else (1, 150, ctx.n_repeats(2, 3))
    rows, acc, pre_acc = run_transfer(ctx, data, "lenet5", shots, pre_epochs, steps, repeats)
    return StudyReport(
        "Transfer learning: MNIST digits 0-4 -> 5-9 with few labels",
        "notes: 데이터가 적을 때는 사전학습된 낮은 층을 고정하고 마지막 층(head)만 새로 학습하고, 데이터가 많아지면 "
        "더 많은 층을 fine-tune 한다; 처음부터 학습하는 것보다 낫다.",
        [f"MNIST, LeNet-5 pretrained {pre_epochs} epoch(s) on all training images of digits 0-4 "
         f"(test accuracy on 0-4: {100 * pre_acc:.2f}%)",
         f"then digits 5-9 with {', '.join(map(str, shots))} labelled training images per class (stratified), "
         f"Adam lr 1e-3, about {steps} optimizer steps per run, best of a 5% validation split, tested on all "
         "MNIST test images of 5-9",
         "scratch: random init; frozen + new head: pretrained, the convolutional features frozen "
         f"(model.freeze [{FEATURES['lenet5']}]), the fully connected layers train, the last one new "
         "(model.reset_head); fine-tune: pretrained, new last layer, all layers train",
         f"{repeats} seeds (each its own labelled subset)"],
        [Table("Test accuracy on digits 5-9 (%)", ["labels per class", *MODES], rows)],
        transfer_verdict(acc, shots)[1], [_figure(acc, shots, ctx)])


def transfer_verdict(acc: dict[tuple[str, int], list[float]], shots: tuple[int, ...]) -> tuple[str, str]:
    """Outcome and sentence for "pretrained features help with few labels": the better pretrained mode against
    scratch at the smallest number of labels per class."""
    m = {k: mean_std(v)[0] for k, v in acc.items()}
    few, many = shots[0], shots[-1]
    pretrained = max(("frozen + new head", "fine-tune"), key=lambda mode: m[(mode, few)])
    outcome = judge(acc[(pretrained, few)], acc[("scratch", few)])
    best_few = max(MODES, key=lambda mode: m[(mode, few)])
    best_many = max(MODES, key=lambda mode: m[(mode, many)])
    return outcome, (f"With {few} labels per class the best is {best_few} ({100 * m[(best_few, few)]:.2f}% vs "
                     f"scratch {100 * m[('scratch', few)]:.2f}%); with {many} per class the best is {best_many} "
                     f"({100 * m[(best_many, many)]:.2f}%). Pretrained features help with few labels: "
                     f"{outcome} here {NOISE_NOTE}.")


def _figure(acc: dict[tuple[str, int], list[float]], shots: tuple[int, ...], ctx: StudyContext) -> Path:
    return shots_figure(acc, shots, MODES, "labelled images per class (digits 5-9)", ctx.out / "transfer.png")


def shots_figure(acc: dict[tuple[str, int], list[float]], shots: tuple[int, ...], modes: tuple[str, ...],
                 xlabel: str, path: Path) -> Path:
    """Mean test accuracy per mode against the number of labels per class (log axis)."""
    from nnlab.plots import plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for mode in modes:
        means = [100 * mean_std(acc[(mode, n)])[0] for n in shots]
        ax.plot(shots, means, marker="o", label=mode)
    ax.set_xscale("log")
    ax.set_xticks(list(shots), [str(n) for n in shots])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy (%)")
    ax.legend()
    return save_figure(fig, path)
