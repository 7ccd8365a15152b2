"""Study: one-stage against two-stage detectors (notes: YOLO, SSD, RetinaNet predict boxes densely in one pass
and are fast; R-CNN -> Fast R-CNN -> Faster R-CNN first propose regions, then classify and refine each, and are
accurate). Every learned detector on the same digit scenes, backbone family and schedule: test mAP against
inference and training images per CPU-second, as one table and one speed / accuracy scatter."""
from __future__ import annotations

import math
from pathlib import Path

from nnlab.experiments.common import save_figure
from nnlab.experiments.studies.detection_history import compare
from nnlab.experiments.studies.detection_runs import Measured, measure, scenes_config
from nnlab.experiments.studies.report import STUDIES, StudyContext, StudyReport, Table, all_of

ONE_STAGE = {"yolo": {"name": "yolo"}, "ssd": {"name": "ssd"}, "retinanet": {"name": "retinanet"}}
TWO_STAGE = {"fast_rcnn": {"name": "fast_rcnn"}, "faster_rcnn": {"name": "faster_rcnn"}}
SPEEDUP = 2.0  # "fast": the one-stage detectors' geometric-mean inference speed at least this many times higher


def settings(full: bool) -> dict[str, int]:
    """Quick: 500 scenes, 12 epochs; full: 2,000 scenes (the issue's), 15 epochs."""
    return {"n": 2000, "n_test": 500, "epochs": 15} if full else {"n": 500, "n_test": 100, "epochs": 12}


def detector_config(detector: str, full: bool) -> dict:
    s = settings(full)
    model = {**ONE_STAGE, **TWO_STAGE}[detector]
    return scenes_config(f"stages_{detector}", model, n=s["n"], n_test=s["n_test"], epochs=s["epochs"])


def geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(max(v, 1e-12)) for v in values) / len(values))


def verdicts(results: dict[str, Measured]) -> tuple[str, str]:
    """(one-stage is faster, two-stage is more accurate): inference speed ratio of the groups' geometric means
    against ``SPEEDUP``; the best two-stage mAP@0.5 against the best one-stage one (detection_history's margin)."""
    one = [results[d] for d in ONE_STAGE if d in results]
    two = [results[d] for d in TWO_STAGE if d in results]
    if not one or not two:
        return "inconclusive", "inconclusive"
    ratio = geomean([m.eval_ips for m in one]) / geomean([m.eval_ips for m in two])
    faster = "supported" if ratio >= SPEEDUP else "not supported" if ratio <= 1.0 else "inconclusive"
    return faster, compare(max(m.map50 for m in two), max(m.map50 for m in one))


def verdict_text(results: dict[str, Measured]) -> str:
    faster, accurate = verdicts(results)
    one = [d for d in ONE_STAGE if d in results]
    two = [d for d in TWO_STAGE if d in results]
    ratio = geomean([results[d].eval_ips for d in one]) / geomean([results[d].eval_ips for d in two])
    best_one = max(one, key=lambda d: results[d].map50)
    best_two = max(two, key=lambda d: results[d].map50)
    return (f"One-stage is faster, two-stage more accurate: {all_of(faster, accurate)}. One-stage detectors infer "
            f"{ratio:.1f}x as many images per CPU-second (geometric means; 'faster' needs >= {SPEEDUP:g}x): "
            f"{faster}. The best two-stage detector ({best_two}, mAP@0.5 {results[best_two].map50:.3f}) against the "
            f"best one-stage one ({best_one}, {results[best_one].map50:.3f}): {accurate} (differences within "
            f"0.02 are ties).")


@STUDIES.register("one-vs-two-stage")
def study(ctx: StudyContext) -> StudyReport:
    s = settings(ctx.full)
    results: dict[str, Measured] = {}
    for detector in (*ONE_STAGE, *TWO_STAGE):
        m = results[detector] = measure(ctx, detector_config(detector, ctx.full))
        ctx.log(f"{detector:12s} mAP50 {m.map50:.3f} mAP {m.map:.3f} train {m.train_ips:.0f} / eval "
                f"{m.eval_ips:.0f} img per CPU-s")
    header = ["detector", "stages", "mAP@0.5", "mAP@[.5:.95]", "mAP small", "params", "train img/CPU-s",
              "eval img/CPU-s", "fit CPU-min"]
    rows = [[d, 1 if d in ONE_STAGE else 2, f"{m.map50:.3f}", f"{m.map:.3f}", f"{m.small:.3f}", f"{m.params:,}",
             f"{m.train_ips:.0f}", f"{m.eval_ips:.0f}", f"{m.train_cpu_s / 60:.1f}"] for d, m in results.items()]
    return StudyReport(
        "One-stage (YOLO, SSD, RetinaNet) against two-stage (Fast, Faster R-CNN): speed against accuracy",
        "notes: one-stage detectors predict class, objectness and box at every location in one pass (fast); "
        "two-stage detectors propose regions, then pool and classify each one (accurate).",
        [f"digit scenes at 128 px (1-5 MNIST digits on clutter), {s['n']} training scenes (10% validation), "
         f"{s['n_test']} test scenes; seed 0, one run each",
         f"every detector on the tiny backbone (width 16) with its default neck (yolo / ssd: none, retinanet / "
         f"faster_rcnn: FPN; fast_rcnn: one stride-16 map with RoI pooling over dense sliding-window proposals); "
         f"AdamW 0.003 one-cycle, batch 32, {s['epochs']} epochs, scale / translate augmentation",
         "speed in images per CPU-second of this process at one thread (eval mode includes NMS); fit CPU-min: "
         "the CPU minutes of the whole training run (with validation). The classic detectors of Detection I are "
         "measured by `nnlab study detection-history`."],
        [Table("Test accuracy and speed per detector", header, rows)], verdict_text(results),
        [_figure(results, ctx.out)])


def _figure(results: dict[str, Measured], out: Path) -> Path:
    from nnlab.plots import plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for group, marker, names in (("one-stage", "o", ONE_STAGE), ("two-stage", "s", TWO_STAGE)):
        ds = [d for d in names if d in results]
        ax.scatter([results[d].eval_ips for d in ds], [results[d].map50 for d in ds], marker=marker, s=50,
                   label=group)
        for d in ds:
            ax.annotate(d, (results[d].eval_ips, results[d].map50), textcoords="offset points", xytext=(5, 4),
                        fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("inference images per CPU-second (log)")
    ax.set_ylabel("test mAP@0.5")
    ax.legend(fontsize=8)
    return save_figure(fig, out / "one_vs_two_stage.png")
