"""Load a finished run and use it: evaluate on a split, predict image files, list runs."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from nnlab import config as cfgmod
from nnlab.api import DEFAULT_RUNS, build_loss, build_model, run_data
from nnlab.config import Config
from nnlab.data import Preprocess, TensorLoader
from nnlab.data.dataset import ImageDataset
from nnlab.engine import checkpoint, runs
from nnlab.engine.metrics import confusion_matrix, per_class_report, topk_correct
from nnlab.engine.trainer import resolve_device
from nnlab.errors import UserError
from nnlab.models.transfer import builder_options


@dataclass
class LoadedRun:
    dir: Path
    config: Config
    meta: dict[str, Any]
    model: nn.Module  # in eval mode: dropout off, batch norm on running statistics
    preprocess: Preprocess
    classes: list[str]
    device: torch.device


def load_run(run_dir: str | Path, weights: str = "best", device: str = "cpu") -> LoadedRun:
    """Rebuild a run's model from its config and load its ``best`` (or ``last``) weights."""
    run_dir = Path(run_dir)
    meta = runs.read_meta(run_dir)
    cfg = cfgmod.load(run_dir / "config.yaml")
    pre = Preprocess(**meta["preprocess"])
    classes = meta["classes"]
    model = build_model(cfg.model.name, len(classes), pre.channels, (pre.height, pre.width),
                        **builder_options(cfg.model.args))
    folder = run_dir / "checkpoints"
    path = folder / f"{weights}.pt"
    if not path.is_file():
        path = folder / "last.pt"
    if not path.is_file():
        raise UserError(f"{run_dir} has no checkpoint yet (checkpoints/best.pt or last.pt)")
    model.load_state_dict(checkpoint.load(path)["model"])
    dev = resolve_device(device)
    model.to(dev).eval()
    return LoadedRun(run_dir, cfg, meta, model, pre, classes, dev)


def evaluate(run_dir: str | Path, split: str = "test", weights: str = "best",
             progress: bool = False) -> dict[str, Any]:
    """Loss, top-1/top-5 accuracy, per-class precision/recall/F1 and the confusion matrix on a split."""
    run = load_run(run_dir, weights)
    splits = run_data(run.dir, run.config, progress)
    if split not in splits:
        raise UserError(f"run has no {split!r} split (it has: {', '.join(splits)})")
    loader = TensorLoader(splits[split], run.preprocess, run.config.train.eval_batch_size)
    loss_fn = build_loss(run.config.train.loss, run.model)
    k = len(run.classes)
    loss_sum, top1, top5, count = 0.0, 0, 0, 0
    cm = torch.zeros(k, k, dtype=torch.int64)
    with torch.inference_mode():
        for x, y in loader:
            out = run.model(x.to(run.device)).float().cpu()
            loss_sum += float(loss_fn(out, y)) * len(y)
            c1, c5 = topk_correct(out, y, (1, 5))
            top1, top5, count = top1 + c1, top5 + c5, count + len(y)
            cm += confusion_matrix(out.argmax(1), y, k)
    report = per_class_report(cm)
    result = {
        "split": split, "count": count, "loss": loss_sum / count, "top1": top1 / count, "top5": top5 / count,
        "classes": run.classes, "confusion": cm.tolist(),
        "per_class": {name: {m: report[m][i].item() for m in ("precision", "recall", "f1", "support")}
                      for i, name in enumerate(run.classes)},
    }
    out_dir = Path(run_dir) / "eval"
    checkpoint.write_json(out_dir / f"{split}.json", result)
    from nnlab.plots import confusion_png  # matplotlib only when a plot is written

    result["confusion_png"] = str(confusion_png(cm, run.classes, out_dir / f"confusion_{split}.png",
                                                title=f"{run.dir.name} · {split}"))
    return result


def outputs(run: LoadedRun, split: str = "test",
            splits: dict[str, ImageDataset] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (N, K) and labels (N,) of a loaded run's model on one split (default: the run's own data)."""
    splits = run_data(run.dir, run.config) if splits is None else splits
    if split not in splits:
        raise UserError(f"run has no {split!r} split (it has: {', '.join(splits)})")
    loader = TensorLoader(splits[split], run.preprocess, run.config.train.eval_batch_size)
    logits, labels = [], []
    with torch.inference_mode():
        for x, y in loader:
            logits.append(run.model(x.to(run.device)).float().cpu())  # (B, K)
            labels.append(y)
    return torch.cat(logits), torch.cat(labels)


def predict(run_dir: str | Path, images: Sequence[str | Path], topk: int = 5) -> list[dict[str, Any]]:
    """Top-k classes with probabilities for each image file (the run's preprocessing applied)."""
    if not images:
        raise UserError("no images given")
    if topk < 1:
        raise UserError(f"--top must be at least 1 (got {topk})")
    run = load_run(run_dir)
    k = min(topk, len(run.classes))
    results = []
    for start in range(0, len(images), 256):
        paths = list(images[start: start + 256])
        x = run.preprocess.load_files(paths)
        with torch.inference_mode():
            probs = run.model(x.to(run.device)).float().cpu().softmax(1)
        p, idx = probs.topk(k, dim=1)
        for path, pi, ii in zip(paths, p.tolist(), idx.tolist()):
            results.append({"image": str(path),
                            "top": [{"class": run.classes[i], "index": i, "prob": q} for q, i in zip(pi, ii)]})
    return results


def list_runs(root: str | Path = DEFAULT_RUNS) -> list[dict[str, Any]]:
    """One row per run: name, task, model, status, best metric and epoch, test accuracy."""
    rows = []
    for path in runs.find_runs(root):
        try:
            meta = runs.live_meta(path)  # "running" with no live lock holder: interrupted
        except UserError:
            continue
        rows.append({"run": str(path), "task": meta.get("task"), "model": meta.get("model"),
                     "status": meta.get("status"), "monitor": meta.get("monitor"), "best": meta.get("best"),
                     "best_epoch": meta.get("best_epoch"), "epochs": f"{meta.get('epochs_done', 0)}/"
                     f"{meta.get('epochs')}", "test_acc": (meta.get("test") or {}).get("acc")})
    return rows
