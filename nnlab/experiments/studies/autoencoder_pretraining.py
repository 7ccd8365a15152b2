"""Study: autoencoder features when labels are few (notes: an autoencoder learns features from unlabelled data by
reconstructing its input; the decoder is thrown away and the encoder initialises a supervised model).

An MLP autoencoder (784 -> 256 -> 32 -> 256 -> 784, L2 loss) learns from every MNIST training image without
labels; then a classifier 784 -> 256 -> 10 learns from 10, 100 or 1,000 labelled images per class: (a) from
scratch, (b) the encoder's first layer (784 -> 256, ReLU: the same function in both models) frozen + a linear
head, (c) that layer fine-tuned with the head. The 32-d code itself is linear in the autoencoder while the MLP
puts a ReLU after every hidden layer; transferring it too (784-256-32-10) scored lower in every arm (10/class:
frozen 54%, fine-tuned 71% vs scratch 76%; one quick run, README).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from nnlab.engine import checkpoint
from nnlab.experiments.common import fmt_ms, mean_std
from nnlab.experiments.studies.report import STUDIES, StudyContext, StudyReport, Table
from nnlab.experiments.studies.transfer import find_mnist, shots_figure, transfer_config
from nnlab.models.transfer import read_state_dict

MODES = ("scratch", "AE frozen + linear", "AE fine-tuned")
HIDDEN, LATENT = 256, 32
# the autoencoder's first encoder layer -> the MLP classifier's first layer (nnlab.models.classic.mlp)
KEY_MAP = {"encoder.1.": "features.0."}


def encoder_weights(ae_run: Path, out: Path) -> Path:
    """The encoder of an autoencoder run saved under the classifier's parameter names (the decoder is dropped)."""
    state = read_state_dict(ae_run)
    mapped = {new + k.removeprefix(old): v for k, v in state.items() for old, new in KEY_MAP.items()
              if k.startswith(old)}
    checkpoint.save({"model": mapped}, out)
    return out


def pretrain(ctx: StudyContext, data: dict[str, Any], epochs: int) -> Path:
    cfg = {"name": "autoencoder", "task": "generate", "seed": 0, "data": {**data, "val_fraction": 0.05},
           "model": {"name": "autoencoder", "kind": "mlp", "hidden": [HIDDEN], "latent": LATENT},
           "optim": {"name": "adam", "lr": 2e-3}, "train": {"epochs": epochs, "batch_size": 128}}
    run = ctx.fit(cfg)
    ctx.log(f"autoencoder: {epochs} epoch(s) on every training image, test mse {run.test['mse']:.4f}")
    return encoder_weights(run.dir, ctx.out / "encoder.pt")


def run_pretraining(ctx: StudyContext, data: dict[str, Any], shots: tuple[int, ...], ae_epochs: int, steps: int,
                    repeats: int) -> dict[tuple[str, int], list[float]]:
    """Test accuracy per (mode, labels per class), one value per seed."""
    encoder = pretrain(ctx, data, ae_epochs)
    classes = list(range(10))
    acc: dict[tuple[str, int], list[float]] = {}
    for n in shots:
        batches = max(1, -(-n * 10 // (16 if n * 10 <= 64 else 32)))
        for mode in MODES:
            opts: dict[str, Any] = {"hidden": [HIDDEN]}
            if mode != "scratch":
                opts.update(weights=str(encoder), reset_head=True)
            if mode == "AE frozen + linear":
                opts["freeze"] = ["features"]
            for seed in range(repeats):
                cfg = transfer_config(f"{mode.split()[-1]}_{n}_s{seed}", data, "mlp", seed, max(2, steps // batches),
                                      n, classes, **opts)
                acc.setdefault((mode, n), []).append(ctx.fit(cfg).test["acc"])
            ctx.log(f"{n:5d}/class {mode:20s}: test {fmt_ms(acc[(mode, n)])} %")
    return acc


@STUDIES.register("autoencoder-pretraining")
def study(ctx: StudyContext) -> StudyReport:
    data = {"dataset": "mnist", "path": str(find_mnist("autoencoder-pretraining"))}
    shots = (10, 100, 1000)
    ae_epochs, steps, repeats = (5, 600, ctx.n_repeats(3, 3)) if ctx.full else (2, 300, ctx.n_repeats(1, 3))
    acc = run_pretraining(ctx, data, shots, ae_epochs, steps, repeats)
    rows = [[n, *(fmt_ms(acc[(m, n)]) for m in MODES)] for n in shots]
    return StudyReport(
        "Autoencoder pretraining with few labels (MNIST)",
        "notes: an autoencoder learns features from unlabelled data; its encoder initialises a supervised model, "
        "which helps when labels are few.",
        [f"MLP autoencoder 784-{HIDDEN}-{LATENT}-{HIDDEN}-784 (ReLU, L2 loss, Adam 2e-3) trained {ae_epochs} "
         "epoch(s) on every MNIST training image without labels",
         f"classifier MLP 784-{HIDDEN}-10, Adam 1e-3, about {steps} optimizer "
         f"steps per run on {', '.join(map(str, shots))} labelled images per class, best of a 5% validation split, "
         "tested on all 10,000 MNIST test images",
         f"frozen: the encoder's first layer (784-{HIDDEN}, ReLU) frozen, a new linear head; fine-tuned: the same "
         f"start, every layer trains; {repeats} seed(s), each its own labelled subset"],
        [Table("Test accuracy (%)", ["labels per class", *MODES], rows)],
        _verdict(acc, shots), [_figure(acc, shots, ctx)])


def _verdict(acc: dict[tuple[str, int], list[float]], shots: tuple[int, ...]) -> str:
    m = {k: mean_std(v)[0] for k, v in acc.items()}
    parts = []
    for n in shots:
        best = max(MODES[1:], key=lambda mode: m[(mode, n)])
        parts.append(f"{n}/class: best pretrained {best} {100 * m[(best, n)]:.2f}% vs scratch "
                     f"{100 * m[('scratch', n)]:.2f}%")
    few = shots[0]
    helps = max(m[(mode, few)] for mode in MODES[1:]) > m[("scratch", few)]
    return "; ".join(parts) + f". AE features help with few labels: {'supported' if helps else 'not supported'} here."


def _figure(acc: dict[tuple[str, int], list[float]], shots: tuple[int, ...], ctx: StudyContext) -> Path:
    return shots_figure(acc, shots, MODES, "labelled images per class", ctx.out / "autoencoder_pretraining.png")
