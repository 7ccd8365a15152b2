"""Study: the truncation length T of backpropagation through time vs validation loss and speed on a character
language model (notes: truncated BPTT carries the hidden state forward but backpropagates only T steps)."""
from __future__ import annotations

from typing import Any

from nnlab.engine.runs import RunDir
from nnlab.experiments.common import resolve, save_figure, with_values
from nnlab.experiments.studies.report import STUDIES, StudyContext, StudyReport, Table

SHAKESPEARE = "../shared/datasets/tinyshakespeare/input.txt"


def base_config(full: bool) -> dict[str, Any]:
    """The Shakespeare LSTM; quick: 256 wide on the first 300k characters, one epoch."""
    return {"name": "bptt", "task": "sequence", "seed": 0, "data": {"dataset": "text", "path": SHAKESPEARE},
            "sequence": {"mode": "lm", "max_chars": None if full else 300_000},
            "model": {"name": "lstm", "hidden": 512 if full else 256, "layers": 2, "embed": 64},
            "optim": {"name": "adam", "lr": 0.002},
            "train": {"epochs": 2 if full else 1, "batch_size": 32, "clip_norm": 1.0,
                      "checkpoint": {"keep_last": 0}}}


def epoch_times(run_dir: Any) -> list[float]:
    """Seconds of each epoch (training and validation) from the run's metrics.csv."""
    import csv

    with open(RunDir(run_dir).metrics) as f:
        return [float(row["time"]) for row in csv.DictReader(f)]


@STUDIES.register("bptt")
def study(ctx: StudyContext) -> StudyReport:
    windows = [8, 16, 32, 64, 128, 256] if ctx.full else [8, 32, 128]
    base = resolve(ctx.base or base_config(ctx.full), ctx.overrides)
    rows, points = [], []
    for t in windows:
        run = ctx.fit(with_values(base, {"name": f"bptt_T{t}", "sequence.window": t}))
        seconds = sum(epoch_times(run.dir))
        chars = run.meta["characters"]["train"] * run.meta["epochs_done"]
        best = run.meta["best"]
        rows.append([t, f"{best:.4f}", f"{best / 0.6931:.3f}", f"{chars / seconds:.0f}", f"{seconds:.0f}"])
        points.append((t, best, chars / seconds))
        ctx.log(f"T={t:4d}: val {best:.4f} nats/char, {chars / seconds:.0f} chars/s")
    return StudyReport(
        "Truncated BPTT: window length T vs validation loss and speed",
        "notes: 긴 시퀀스는 truncated backpropagation through time으로 학습한다 (hidden state는 계속 전달하고 "
        "gradient는 일정 구간만 역전파).",
        [f"{base.data.path}: first 90% train / last 10% validation"
         + (f", first {base.sequence.max_chars:,} characters" if base.sequence.max_chars else ""),
         f"{base.model.name} {base.model.args.get('layers', 1)} x {base.model.args.get('hidden')}, batch "
         f"{base.train.batch_size} streams, Adam {base.optim.lr}, clip {base.train.clip_norm}, "
         f"{base.train.epochs} epoch(s); the state is carried across windows for every T",
         "chars/s counts training characters over the epochs' wall time (validation included)"],
        [Table("Validation loss and speed by T", ["T", "val nats/char", "val bits/char", "chars/s", "seconds"],
               rows)],
        _verdict(points), [_figure(points, ctx)])


def _verdict(points: list[tuple[int, float, float]]) -> str:
    best = min(points, key=lambda p: p[1])
    fastest = max(points, key=lambda p: p[2])
    return (f"The lowest validation loss came with T = {best[0]} ({best[1]:.4f} nats/char); the fastest training "
            f"with T = {fastest[0]} ({fastest[2]:.0f} chars/s). Every T reads the same characters, so a short T takes "
            "more optimizer steps per epoch (the budget favours it early) but backpropagates dependencies only "
            "within T steps (the carried state still brings older context forward).")


def _figure(points: list[tuple[int, float, float]], ctx: StudyContext):
    from nnlab.plots import plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    ts = [p[0] for p in points]
    a.plot(ts, [p[1] for p in points], marker="o")
    b.plot(ts, [p[2] for p in points], marker="o")
    a.set(xscale="log", xlabel="window T", ylabel="val nats/char", title="validation loss")
    b.set(xscale="log", xlabel="window T", ylabel="characters / s", title="training speed")
    return save_figure(fig, ctx.out / "bptt.png")
