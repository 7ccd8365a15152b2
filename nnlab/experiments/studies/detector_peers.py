"""Study: nnlab's assembled detectors beside torchvision's own (issue 14: "side by side in one run with
torchvision's own detectors on the same backbone, data and schedule"). Each pair shares backbone, neck, anchors
and heads (nnlab/models/detection/peers.py); what differs is the wiring: nnlab's ``Detector(backbone, neck,
head)`` against torchvision's ``SSD`` / ``RetinaNet`` / ``FasterRCNN`` classes (their transform and
post-processing). nnlab's own YOLO head runs beside both. torchvision's MobileNetV3 builds (``tv_ssdlite``,
``tv_fasterrcnn_mobilenet``) are not in the study: they share nothing with nnlab's detectors and take seconds per
step on a CPU (train them by name with ``nnlab train``).

Measured (300 / 100 scenes, 12 epochs at batch 16, one run each; table in the README): mAP@0.5 nnlab / torchvision
ssd 0.419 / 0.446, retinanet 0.125 / 0.105, faster_rcnn 0.189 / 0.164 (one run from different initial weights:
within seed noise), yolo 0.116; inference speed 1.55x / 1.18x / 0.97x torchvision's."""
from __future__ import annotations

from nnlab.experiments.studies.detection_history import compare
from nnlab.experiments.studies.detection_runs import Measured, measure, scenes_config
from nnlab.experiments.studies.report import STUDIES, StudyContext, StudyReport, Table, all_of

PAIRS = {"ssd": "tv_ssd", "retinanet": "tv_retinanet", "faster_rcnn": "tv_faster_rcnn"}
NOT_SLOWER = 0.9  # nnlab's images per CPU-second at least this fraction of torchvision's


def settings(full: bool) -> dict[str, int]:
    """Quick: 500 scenes, 12 epochs; full (~20 CPU-minutes at one thread, Faster R-CNN pairs most of it): 700
    scenes, 15 epochs, 200 test scenes."""
    return {"n": 700, "n_test": 200, "epochs": 15} if full else {"n": 500, "n_test": 100, "epochs": 12}


def detectors() -> list[str]:
    """nnlab's YOLO, then each nnlab detector beside its torchvision peer."""
    return ["yolo", *(d for pair in PAIRS.items() for d in pair)]


def peer_config(detector: str, full: bool) -> dict:
    s = settings(full)
    return scenes_config(f"peer_{detector}", {"name": detector}, n=s["n"], n_test=s["n_test"], epochs=s["epochs"])


def pair_verdict(ours: Measured, theirs: Measured) -> tuple[str, str]:
    """(same accuracy, not slower): mAP@0.5 within detection_history's margin; both speeds at least
    ``NOT_SLOWER`` of torchvision's."""
    same = "supported" if compare(ours.map50, theirs.map50) == "inconclusive" else "not supported"
    ratios = (ours.train_ips / theirs.train_ips, ours.eval_ips / theirs.eval_ips)
    return same, "supported" if min(ratios) >= NOT_SLOWER else "not supported"


def verdict_text(results: dict[str, Measured]) -> str:
    parts, outcomes = [], []
    for ours, theirs in PAIRS.items():
        if ours not in results or theirs not in results:
            continue
        a, b = results[ours], results[theirs]
        same, fast = pair_verdict(a, b)
        outcomes += [same, fast]
        parts.append(f"{ours}: mAP@0.5 {a.map50:.3f} vs {b.map50:.3f} ({same}), train {a.train_ips / b.train_ips:.2f}x "
                     f"/ inference {a.eval_ips / b.eval_ips:.2f}x torchvision's speed ({fast})")
    if "yolo" in results:
        y = results["yolo"]
        parts.append(f"nnlab's YOLO head: mAP@0.5 {y.map50:.3f} at {y.eval_ips:.0f} inference images per CPU-second")
    return (f"nnlab's assembly matches torchvision's accuracy (mAP@0.5 within 0.02) and is not slower (>= "
            f"{NOT_SLOWER:g}x): {all_of(*outcomes) if outcomes else 'inconclusive'}. " + "; ".join(parts) + ".")


@STUDIES.register("torchvision-peers")
def study(ctx: StudyContext) -> StudyReport:
    s = settings(ctx.full)
    results: dict[str, Measured] = {}
    for detector in detectors():
        m = results[detector] = measure(ctx, peer_config(detector, ctx.full))
        ctx.log(f"{detector:24s} mAP50 {m.map50:.3f} mAP {m.map:.3f} train {m.train_ips:.0f} / eval {m.eval_ips:.0f} "
                f"img per CPU-s")
    header = ["detector", "built by", "mAP@0.5", "mAP@[.5:.95]", "params", "train img/CPU-s", "eval img/CPU-s"]
    rows = [[d, "torchvision" if d.startswith("tv_") else "nnlab", f"{m.map50:.3f}", f"{m.map:.3f}",
             f"{m.params:,}", f"{m.train_ips:.0f}", f"{m.eval_ips:.0f}"] for d, m in results.items()]
    return StudyReport(
        "nnlab's detectors beside torchvision's own, same backbone, data and schedule",
        "issue 14: nnlab's assembled versions must match torchvision's accuracy within noise and not be slower.",
        [f"digit scenes at 128 px (1-5 MNIST digits on clutter), {s['n']} training scenes (10% validation), "
         f"{s['n_test']} test scenes; AdamW 0.003 one-cycle, batch 32, {s['epochs']} epochs; seed 0, one run each",
         "pairs share the tiny backbone (width 16), neck, anchors and heads; tv_* are torchvision's model classes "
         "(weights=None) with an identity resize / normalize (nnlab's loader already does both) and labels "
         "shifted by one for torchvision's background class",
         "speed in images per CPU-second of this process at one thread (eval mode includes NMS)"],
        [Table("Test mAP and speed", header, rows)], verdict_text(results))
