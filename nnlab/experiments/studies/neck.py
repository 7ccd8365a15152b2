"""Study: what a neck buys (notes: the backbone's coarse maps carry meaning, its fine maps carry detail; a neck
upsamples the coarse ones and merges them into the fine ones by **add** ([C, H, W]) or **concat** ([2C, H, W]),
FPN top-down, PAN top-down then bottom-up). The same tiny backbone and SSD head (the default one-stage detector,
3 levels) on digit scenes with neck none / fpn add / fpn concat / pan add: mAP@0.5, mAP, mAP on small objects,
parameters, training and inference images per CPU-second. SSD, not YOLO: YOLO's necks trained too slowly for a
verdict inside a CPU budget (the quick YOLO run: none 0.139, necks 0.05-0.07 mAP@0.5 after 12 epochs).

Measured (``nnlab study neck --full``, 3 seeds; table in the README): large digits mAP none 0.530, fpn add 0.553,
fpn concat 0.571, pan 0.572 (supported); small digits none 0.207, fpn add 0.143, concat 0.127, pan 0.125 (the
necks are worse at this budget: not supported)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from nnlab.experiments.common import mean_std, save_figure
from nnlab.experiments.studies.detection_runs import Measured, measure, scenes_config
from nnlab.experiments.studies.report import (
    NOISE_NOTE, STUDIES, StudyContext, StudyReport, Table, all_of, judge,
)

NECKS = {"none": {"neck": "none"}, "fpn add": {"neck": "fpn", "merge": "add"},
         "fpn concat": {"neck": "fpn", "merge": "concat"}, "pan": {"neck": "pan", "merge": "add"}}
SCALES = {"mixed digits (0.5-2x)": (0.5, 2.0), "small digits (0.4-0.8x)": (0.4, 0.8),
          "large digits (1.2-2.4x)": (1.2, 2.4)}
BOXES = {"mixed digits (0.5-2x)": (0.1, 0.4), "small digits (0.4-0.8x)": (0.1, 0.4),  # SSD min / max ratio:
         "large digits (1.2-2.4x)": (0.2, 0.9)}  # default boxes of 13-51 px, or the builder's 26-115 px
JUDGED = {"mixed digits (0.5-2x)": "small", "small digits (0.4-0.8x)": "small", "large digits (1.2-2.4x)": "map"}


def settings(full: bool) -> dict[str, int | list[str]]:
    """Quick: 500 scenes, 12 epochs, mixed scales, one seed; full (~15 CPU-minutes at one thread): 400 scenes,
    18 epochs at batch 16, small and large digits, 3 seeds (few scenes, many steps: the necks need the steps; at
    batch 32 no neck reached only 0.23 mAP@0.5 on small digits)."""
    if full:
        return {"n": 400, "n_test": 200, "epochs": 18, "batch_size": 16, "repeats": 3,
                "scales": ["small digits (0.4-0.8x)", "large digits (1.2-2.4x)"]}
    return {"n": 500, "n_test": 100, "epochs": 12, "batch_size": 32, "repeats": 1, "scales": ["mixed digits (0.5-2x)"]}


def neck_config(neck: str, scale: str, seed: int, full: bool) -> dict:
    s = settings(full)
    low, high = BOXES[scale]
    model = {"name": "ssd", "levels": 3, "min_ratio": low, "max_ratio": high, **NECKS[neck]}
    return scenes_config(f"neck_{neck.replace(' ', '_')}_{SCALES[scale][0]:g}_s{seed}", model, n=s["n"],
                         n_test=s["n_test"], epochs=s["epochs"], seed=seed, scale=SCALES[scale],
                         batch_size=s["batch_size"])


def _values(results: dict[tuple[str, str], list[Measured]], scale: str, neck: str) -> list[float]:
    return [getattr(m, JUDGED[scale]) for m in results[(scale, neck)]]


def verdict_text(results: dict[tuple[str, str], list[Measured]], scales: Sequence[str]) -> str:
    """Claim: a neck raises mAP over no neck (the best neck's seeds against none's), judged on small objects
    where the scenes have them and on all objects for large digits."""
    parts, outcomes = [], []
    for scale in scales:
        best = max((n for n in NECKS if n != "none"), key=lambda n: mean_std(_values(results, scale, n))[0])
        with_neck, without = _values(results, scale, best), _values(results, scale, "none")
        outcome = judge(with_neck, without)
        outcomes.append(outcome)
        what = "small-object mAP" if JUDGED[scale] == "small" else "mAP"
        add, cat = results[(scale, "fpn add")], results[(scale, "fpn concat")]
        parts.append(f"{scale}: {best} {mean_std(with_neck)[0]:.3f} vs none {mean_std(without)[0]:.3f} {what} "
                     f"({outcome}); concat vs add mAP@0.5 {mean_std([m.map50 for m in cat])[0]:.3f} vs "
                     f"{mean_std([m.map50 for m in add])[0]:.3f} at {cat[0].params / add[0].params:.2f}x the "
                     f"parameters")
    return f"A neck raises mAP (small objects first): {all_of(*outcomes)} {NOISE_NOTE}. " + "; ".join(parts) + "."


def row(scale: str, neck: str, ms: list[Measured]) -> list[str]:
    def f(key: str) -> str:
        values = [getattr(x, key) for x in ms]
        if all(math.isnan(v) for v in values):
            return "-"  # no test object of that size (COCO's -1)
        m, s = mean_std(values)
        return f"{m:.3f} ± {s:.3f}" if len(ms) > 1 else f"{m:.3f}"

    return [scale, neck, f("map50"), f("map"), f("small"), f("medium"), f"{ms[0].params:,}",
            f"{mean_std([x.train_ips for x in ms])[0]:.0f}", f"{mean_std([x.eval_ips for x in ms])[0]:.0f}"]


@STUDIES.register("neck")
def study(ctx: StudyContext) -> StudyReport:
    s = settings(ctx.full)
    repeats = ctx.n_repeats(int(s["repeats"]), int(s["repeats"]))
    scales: list[str] = list(s["scales"])  # type: ignore[arg-type]
    results: dict[tuple[str, str], list[Measured]] = {}
    for scale in scales:
        for neck in NECKS:
            results[(scale, neck)] = [measure(ctx, neck_config(neck, scale, seed, ctx.full)) for seed in range(repeats)]
            m = results[(scale, neck)][-1]
            ctx.log(f"{scale} {neck:10s} mAP50 {m.map50:.3f} mAP {m.map:.3f} small {m.small:.3f} "
                    f"params {m.params:,} train {m.train_ips:.0f} / eval {m.eval_ips:.0f} img per CPU-s")
    header = ["digits", "neck", "mAP@0.5", "mAP@[.5:.95]", "mAP small", "mAP medium", "params", "train img/CPU-s",
              "eval img/CPU-s"]
    rows = [row(scale, neck, ms) for (scale, neck), ms in results.items()]
    return StudyReport(
        "Necks: none vs FPN (add, concat) vs PAN under one SSD head",
        "notes: the neck upsamples the backbone's coarse maps and merges them into the fine ones (add: same "
        "channels, concat: twice the channels brought back by a 1x1 conv); detail plus meaning should help the "
        "small objects most.",
        [f"digit scenes at 128 px, 1-5 MNIST digits on clutter, {s['n']} training scenes (10% validation), "
         f"{s['n_test']} test scenes; {', '.join(scales)}",
         f"tiny backbone (width 16, 3 levels at strides 8/16/32), SSD head (default boxes 0.1-0.4 of the image for "
         f"small / mixed digits, 0.2-0.9 for large ones; hard negative mining), neck width 64; "
         f"AdamW 0.003 one-cycle, batch {s['batch_size']}, {s['epochs']} epochs; seeds 0..{repeats - 1}",
         "mAP small / medium: COCO's area ranges (< 32^2, 32^2-96^2 pixels); throughput in images per CPU-second "
         "of this process at one thread (the wall clock of a shared machine measures its neighbours)"],
        [Table("Test mAP and cost per neck (mean ± sd over seeds)", header, rows)],
        verdict_text(results, scales), [_figure(results, scales, ctx.out)])


def _figure(results: dict[tuple[str, str], list[Measured]], scales: Sequence[str], out: Path) -> Path:
    from nnlab.plots import plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    width = 0.8 / len(scales)
    names = list(NECKS)
    for i, scale in enumerate(scales):
        xs = [j + i * width for j in range(len(names))]
        axes[0].bar(xs, [mean_std(_values(results, scale, n))[0] for n in names], width, label=scale)
        axes[1].bar(xs, [mean_std([m.map50 for m in results[(scale, n)]])[0] for n in names], width, label=scale)
    for ax, label in zip(axes, ("test mAP (small objects; all if large)", "test mAP@0.5")):
        ax.set_xticks([j + width * (len(scales) - 1) / 2 for j in range(len(names))], names, fontsize=8)
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    return save_figure(fig, out / "neck.png")
