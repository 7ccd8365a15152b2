"""Study: detection as a history (notes: classification + localization, a classifier slid over the image, the
same classifier made fully convolutional (DIGITS' two approaches), HOG + SVM, R-CNN). Every classic detector is
trained by ``nnlab.fit`` on digit scenes and on the raccoon photos and measured the same way: mAP@0.5,
mAP@[.5:.95], training seconds and inference ms per image. Beside them, on Penn-Fudan's person boxes (when
../shared/datasets/pennfudanped is there): OpenCV's pretrained HOG people detector vs nnlab's hog_svm trained on
the same photos."""
from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from nnlab.api import run_data
from nnlab.data.boxes.records import shared_places
from nnlab.errors import DataError
from nnlab.experiments.common import save_figure
from nnlab.experiments.studies.report import STUDIES, StudyContext, StudyReport, Table
from nnlab.inference import load_run

DETECTORS = ("cls_loc", "sliding_window", "convolutional", "hog_svm", "rcnn")
LEARNED = ("cls_loc", "sliding_window", "convolutional", "rcnn")  # features learned by a CNN
MARGIN = 0.02  # mAP@0.5 differences within this are a tie
SPEEDUP = 2.0  # "much faster": at least this ratio of ms/image
TIMED_IMAGES = 20  # test images timed for ms/image


@dataclass
class Result:
    map50: float
    map: float
    train_s: float
    ms: float  # inference per image (batch of one, CPU)


def _window_options(patch: int, scales: list[float], epochs: int) -> dict[str, Any]:
    return {"classifier": "lenet5", "patch": [patch, patch], "scales": scales, "stride": 4, "epochs": epochs,
            "lr": 0.002}


def detector_options(dataset: str, full: bool) -> dict[str, dict[str, Any]]:
    """Each detector's model section (the committed configs/detect/*.yaml, smaller in the quick version)."""
    scenes = dataset == "scenes"
    epochs = 30  # the window classifier: fewer epochs left it predicting background everywhere
    scales = [0.6, 0.8, 1.0, 1.25] if scenes else [1.5, 2.0, 2.5, 3.0]
    return {"cls_loc": {"backbone": "lenet5" if scenes else "resnet20", "box_loss": "giou"},
            "sliding_window": _window_options(32, scales, epochs),
            "convolutional": _window_options(32, scales, epochs),
            "hog_svm": {"window": [32, 32], "cell": 8, "mining_rounds": 2,
                        "min_scale": 0.6 if scenes else 1.5, "scale_step": 1.25},
            "rcnn": {"backbone": "lenet5", "crop": [32, 32], "proposals": 300 if full else 150, "ss_size": 128,
                     "epochs": 5}}


def study_config(dataset: str, detector: str, full: bool) -> dict[str, Any]:
    """One run: ``dataset`` scenes (one-digit scenes for cls_loc, 1-3 digits otherwise) or raccoon."""
    if dataset == "scenes":
        n = (2000 if detector == "cls_loc" else 500) if full else (1000 if detector == "cls_loc" else 300)
        n = n // 2 if detector == "rcnn" else n
        digits = [1, 1] if detector == "cls_loc" else [1, 3]
        data = {"dataset": "scenes", "image_size": [64, 64]}
        extra = {"detect": {"scenes": {"n": n, "n_test": 100 if full else 40, "digits": digits,
                                       "scale": [0.8, 1.6]}}}
    else:
        data = {"dataset": "raccoon", "image_size": [128, 128] if full else [96, 96], "resize_mode": "letterbox"}
        extra = {"augment": {"hflip": 0.5}} if detector == "cls_loc" else {}
    epochs = (25 if full else 20) if dataset == "scenes" else (40 if full else 30)
    return {"name": f"{dataset}_{detector}", "task": "detect", "seed": 0, "data": {**data, "val_fraction": 0.1},
            "model": {"name": detector, **detector_options(dataset, full)[detector]},
            "optim": {"name": "adam", "lr": 0.002}, "train": {"epochs": epochs, "batch_size": 32}, **extra}


def train_seconds(run_dir: Path, meta: dict[str, Any]) -> float:
    """``fit`` detectors: the seconds their fit took; loop-trained ones: the epochs' time (with validation)."""
    if "fit" in meta:
        return float(meta["fit"]["seconds"])
    with (run_dir / "metrics.csv").open(newline="") as f:
        return sum(float(row["time"]) for row in csv.DictReader(f))


def inference_ms(run_dir: Path, images: int = TIMED_IMAGES) -> float:
    """Mean ms per image over the first ``images`` test images, one at a time, as ``nnlab predict`` runs."""
    run = load_run(run_dir)
    test = run_data(run.dir, run.config).splits["test"]
    x = run.preprocess.normalize(test.images[:images])
    run.task.detect(run.model, x[:1])  # warm-up (lazy imports, first allocations)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for i in range(len(x)):
            run.task.detect(run.model, x[i: i + 1])
    return 1000 * (time.perf_counter() - t0) / len(x)


def measure(ctx: StudyContext, dataset: str, detector: str) -> Result:
    run = ctx.fit(study_config(dataset, detector, ctx.full))
    r = Result(run.test["mAP50"], run.test["mAP"], train_seconds(run.dir, run.meta), inference_ms(run.dir))
    ctx.log(f"{dataset:8s} {detector:15s} mAP50 {r.map50:.3f}  mAP {r.map:.3f}  train {r.train_s:.1f} s  "
            f"{r.ms:.1f} ms/image")
    return r


def compare(a: float | None, b: float | None, margin: float = MARGIN) -> str:
    """'supported' when a beats b by more than ``margin``, 'not supported' when b beats a by more,
    'inconclusive' for a tie or a missing side."""
    if a is None or b is None:
        return "inconclusive"
    return "supported" if a - b > margin else "not supported" if b - a > margin else "inconclusive"


def learned_beats_hog(results: dict[tuple[str, str], Result], dataset: str) -> str:
    learned = [results[(dataset, d)].map50 for d in LEARNED if (dataset, d) in results]
    hog = results.get((dataset, "hog_svm"))
    return compare(max(learned) if learned else None, hog.map50 if hog else None)


def conv_is_faster(results: dict[tuple[str, str], Result], dataset: str) -> str:
    """Same answer (mAP@0.5 within the margin) and at least ``SPEEDUP`` x fewer ms per image."""
    slide, conv = results.get((dataset, "sliding_window")), results.get((dataset, "convolutional"))
    if slide is None or conv is None:
        return "inconclusive"
    if abs(slide.map50 - conv.map50) > MARGIN:
        return "not supported"  # not the same answer
    speedup = slide.ms / max(conv.ms, 1e-9)
    return "supported" if speedup >= SPEEDUP else "not supported" if speedup <= 1.0 else "inconclusive"


def overall(verdicts: Sequence[str]) -> str:
    """One verdict from the datasets': unanimous, else inconclusive."""
    return verdicts[0] if verdicts and len(set(verdicts)) == 1 else "inconclusive"


def verdict_text(results: dict[tuple[str, str], Result], datasets: Sequence[str]) -> str:
    learned = {d: learned_beats_hog(results, d) for d in datasets}
    faster = {d: conv_is_faster(results, d) for d in datasets}
    parts = []
    for d in datasets:
        best = max((x for x in LEARNED if (d, x) in results), key=lambda x: results[(d, x)].map50, default=None)
        hog = results.get((d, "hog_svm"))
        if best and hog:
            parts.append(f"on {d} the best learned detector ({best}) reaches mAP@0.5 {results[(d, best)].map50:.3f} "
                         f"vs HOG + SVM {hog.map50:.3f} ({learned[d]})")
        slide, conv = results.get((d, "sliding_window")), results.get((d, "convolutional"))
        if slide and conv:
            parts.append(f"on {d} the convolutional form takes {conv.ms:.1f} ms/image vs {slide.ms:.1f} for the "
                         f"sliding loop ({slide.ms / max(conv.ms, 1e-9):.1f}x) at mAP@0.5 {conv.map50:.3f} vs "
                         f"{slide.map50:.3f} ({faster[d]})")
    return (f"Learned features beat HOG: {overall(list(learned.values()))}; the convolutional form gives the "
            f"sliding-window answer much faster (>= {SPEEDUP:g}x, mAP@0.5 within {MARGIN}): "
            f"{overall(list(faster.values()))}. " + "; ".join(parts) + ".")


def pennfudan_root() -> Path | None:
    """Penn-Fudan read in place ($NNLAB_PENNFUDAN or ../shared/datasets/pennfudanped); never copied."""
    from nnlab.data.pennfudan import is_pennfudan

    return next((p for p in shared_places("pennfudanped", "NNLAB_PENNFUDAN") if is_pennfudan(p)), None)


def people(ctx: StudyContext, root: Path) -> dict[str, Result]:
    """OpenCV's pedestrian SVM (pretrained, nothing to train) vs hog_svm fit on the first photos; both tested on
    the last ones, person boxes only."""
    from nnlab.data.pennfudan import read_pennfudan
    from nnlab.metrics.detection import evaluate_detections
    from nnlab.models.detection import DETECTORS

    data = read_pennfudan(root, (384, 288))  # (H, W): the pedestrian model needs people >= 128 px tall
    n_train, n_test = (120, 50) if ctx.full else (60, 30)
    if len(data.images) < n_train + n_test:
        raise DataError(f"{root} holds {len(data.images)} photos; the study needs {n_train + n_test}")
    # a seeded shuffle: the files are sorted Fudan (larger people) then Penn (smaller, more per photo)
    order = torch.randperm(len(data.images), generator=torch.Generator().manual_seed(0))
    train, test = order[:n_train], order[len(order) - n_test:]
    every = [{"boxes": t["boxes"], "labels": t["labels"]} for t in data.targets]
    images = {"train": data.images[train], "test": data.images[test]}
    targets = {"train": [every[i] for i in train.tolist()], "test": [every[i] for i in test.tolist()]}
    out = {}
    for name, model in (("hog_people (OpenCV, pretrained)", DETECTORS.build("hog_people")),
                        ("hog_svm (nnlab, trained here)", DETECTORS.build(
                            "hog_svm", classes=1, window=(128, 64), min_scale=1.0, scale_step=1.2))):
        t0 = time.perf_counter()
        if model.fit_mode == "fit":
            model.fit(images["train"], targets["train"])
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        preds = model.predict(images["test"])
        ms = 1000 * (time.perf_counter() - t0) / n_test
        res = evaluate_detections(preds, targets["test"], 1)
        out[name] = Result(res.stats["mAP50"], res.stats["mAP"], train_s, ms)
        ctx.log(f"penn-fudan {name}: mAP50 {res.stats['mAP50']:.3f}  mAP {res.stats['mAP']:.3f}  {ms:.1f} ms/image")
    return out


@STUDIES.register("detection-history")
def study(ctx: StudyContext) -> StudyReport:
    datasets = ["scenes"]
    if any(p.is_dir() for p in shared_places("raccoon", "NNLAB_RACCOON")):
        datasets.append("raccoon")
    results = {(d, det): measure(ctx, d, det) for d in datasets for det in DETECTORS}
    rows = [[d, det, f"{r.map50:.3f}", f"{r.map:.3f}", f"{r.train_s:.1f}", f"{r.ms:.1f}"]
            for (d, det), r in results.items()]
    header = ["data", "detector", "mAP@0.5", "mAP@[.5:.95]", "train s", "ms/image"]
    tables = [Table("Classic detectors, COCO mAP on the test split (CPU)", header, rows)]
    root = pennfudan_root()
    if root is not None:
        pf = people(ctx, root)
        tables.append(Table("Penn-Fudan person boxes: OpenCV's pretrained HOG people detector vs hog_svm", header,
                            [["penn-fudan", k, f"{r.map50:.3f}", f"{r.map:.3f}", f"{r.train_s:.1f}", f"{r.ms:.1f}"]
                             for k, r in pf.items()]))
    cfg = {d: study_config(d, "hog_svm", ctx.full) for d in datasets}
    return StudyReport(
        "Detection as a history: classification + localization, sliding window, fully convolutional, HOG + SVM, "
        "R-CNN",
        "notes: hand-made features (Haar, HOG) scored per window gave way to learned CNN features; the sliding "
        "classifier rewritten as convolutions gives the whole heatmap in one pass (DIGITS' second approach).",
        [f"digit scenes (MNIST digits on cluttered 64x64 backgrounds; 1 digit for cls_loc, 1-3 otherwise; "
         f"{cfg['scenes']['detect']['scenes']['n']} training scenes for the window detectors) and, when present, "
         "the raccoon photos (160 train / 40 test, letterboxed); 10% of train for validation",
         "every detector trained by nnlab.fit (configs as configs/detect/*.yaml, smaller in the quick version); "
         "LeNet-5 is the CNN of the window classifier, R-CNN and cls_loc on scenes (ResNet-20 on raccoon)",
         "train s: a fit detector's fit(), cls_loc's epochs (with their validation); ms/image: the first "
         f"{TIMED_IMAGES} test images one at a time; seed 0, one run each (timings on a shared, loaded 2-core "
         "machine are noisy: compare ratios, not absolute seconds)",
         f"verdicts: mAP@0.5 differences within {MARGIN} are ties (inconclusive); 'much faster' is >= {SPEEDUP:g}x"],
        tables, verdict_text(results, datasets), [_figure(results, datasets, ctx)])


def _figure(results: dict[tuple[str, str], Result], datasets: Sequence[str], ctx: StudyContext) -> Path:
    from nnlab.plots import plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    width = 0.8 / len(datasets)
    for i, d in enumerate(datasets):
        xs = [j + i * width for j in range(len(DETECTORS))]
        axes[0].bar(xs, [results[(d, det)].map50 for det in DETECTORS], width, label=d)
        axes[1].bar(xs, [results[(d, det)].ms for det in DETECTORS], width, label=d)
    for ax, label in zip(axes, ("test mAP@0.5", "ms / image (log)")):
        centres = [j + width * (len(datasets) - 1) / 2 for j in range(len(DETECTORS))]
        ax.set_xticks(centres, DETECTORS, fontsize=8, rotation=15)
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    axes[1].set_yscale("log")
    return save_figure(fig, ctx.out / "detection_history.png")
