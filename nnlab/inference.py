"""Load a finished run and use it: evaluate on a split, predict files, list runs. Every function dispatches
on the run's task (meta.json records it; runs from before tasks existed are classification runs)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from nnlab import config as cfgmod
from nnlab.api import DEFAULT_RUNS, build_task, run_data
from nnlab.config import Config
from nnlab.data import ImageDataset, Preprocess
from nnlab.engine import checkpoint, runs
from nnlab.engine.ema import eval_weights
from nnlab.engine.runs import RunDir
from nnlab.engine.trainer import evaluate as evaluate_loader, resolve_device
from nnlab.errors import UserError
from nnlab.tasks import Task, TaskData
from nnlab.tasks.classify import ClassifyEvaluator


@dataclass
class LoadedRun:
    dir: Path
    config: Config
    meta: dict[str, Any]
    model: nn.Module  # in eval mode: dropout off, batch norm on running statistics
    task: Task  # set up for this model (loss, decoding)
    device: torch.device

    @property
    def preprocess(self) -> Preprocess:
        return Preprocess(**self.meta["preprocess"])

    @property
    def classes(self) -> list[str]:
        """Class names (empty for tasks without classes)."""
        return list(self.meta.get("classes") or [])


def load_run(run_dir: str | Path, weights: str = "best", device: str = "cpu") -> LoadedRun:
    """Rebuild a run's model from its config and load its ``best`` (or ``last``) weights."""
    run = RunDir(run_dir)
    meta = runs.read_meta(run.path)
    cfg = cfgmod.load(run.config)
    task = build_task(cfg)
    model = task.build_model(meta)
    model.load_state_dict(eval_weights(checkpoint.load(run.weights(weights))))  # the EMA's, if the run kept one
    dev = resolve_device(device)
    model.to(dev).eval()
    task.setup(model, meta)
    return LoadedRun(run.path, cfg, meta, model, task, dev)


def evaluate(run_dir: str | Path, split: str = "test", weights: str = "best",
             progress: bool = False) -> dict[str, Any]:
    """The task's metrics on a split, through the same evaluation loop ``fit`` uses (so ``nnlab eval`` on the
    test split reproduces the test metrics the run saved), plus the task's report (tables, figures)."""
    return evaluation(run_dir, split, weights, progress)[0]


def evaluation(run_dir: str | Path, split: str = "test", weights: str = "best",
               progress: bool = False) -> tuple[dict[str, Any], Any, TaskData]:
    """``evaluate``'s result with the task's evaluator that produced it and the run's data (for views that
    show per-image results, e.g. the workbench's detections beside their ground truth)."""
    run = load_run(run_dir, weights)
    data = run_data(run.dir, run.config, progress)
    evaluator = run.task.evaluator()
    t = run.config.train
    metrics = evaluate_loader(run.model, run.task.loader(data, split), evaluator, run.device, t.precision,
                              t.channels_last)
    out_dir = RunDir(run.dir).eval
    result = {"task": run.config.task, "split": split, **metrics,
              **run.task.report(evaluator, run.meta, out_dir, split, f"{run.dir.name} · {split}")}
    checkpoint.write_json(out_dir / f"{split}.json", result)
    return result, evaluator, data


class _Collect(ClassifyEvaluator):
    """A classification evaluator that also keeps every batch's logits and labels."""

    def __init__(self, base: ClassifyEvaluator) -> None:
        super().__init__(base.loss_fn, base.k, base.topk)
        self.logits: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []

    def update(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        x, y = batch
        self.logits.append(model(x).float().cpu())  # (B, K)
        self.labels.append(y.cpu())


def outputs(run: LoadedRun, split: str = "test",
            splits: dict[str, ImageDataset] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (N, K) and labels (N,) of a loaded classification run on one split (default: its own data)."""
    if run.config.task != "classify":
        raise UserError(f"{run.dir} is a {run.config.task} run; this needs a classification run")
    data = run_data(run.dir, run.config) if splits is None else TaskData(splits, run.meta)
    collect = _Collect(run.task.evaluator())
    evaluate_loader(run.model, run.task.loader(data, split), collect, run.device, run.config.train.precision,
                    run.config.train.channels_last)
    return torch.cat(collect.logits), torch.cat(collect.labels)


def predict(run_dir: str | Path, inputs: Sequence[str | Path], topk: int = 5, **options: Any) -> list[dict[str, Any]]:
    """The task's results for each input file: top-k classes with probabilities for a classifier,
    reconstruction errors (and images with ``out``) for a generative run."""
    if not inputs:
        raise UserError("no inputs given")
    if topk < 1:
        raise UserError(f"--top must be at least 1 (got {topk})")
    run = load_run(run_dir)
    if run.config.task == "classify":
        options["topk"] = topk
    return run.task.predict(run.model, run.meta, list(inputs), run.device, **options)


def play(run_dir: str | Path, episodes: int = 10, seed: int = 0, gif: str | Path | None = None,
         weights: str = "best") -> list[dict[str, Any]]:
    """Greedy episodes of a trained rl run (return and length of each); ``gif``: the first one rendered."""
    if episodes < 1:
        raise UserError(f"--episodes must be at least 1 (got {episodes})")
    run = load_run(run_dir, weights)
    if not hasattr(run.task, "play"):
        raise UserError(f"{run.dir} is a {run.config.task} run; only rl runs act in an environment")
    return run.task.play(run.model, episodes, seed, gif)


def list_runs(root: str | Path = DEFAULT_RUNS) -> list[dict[str, Any]]:
    """One row per run: name, task, model, status, best metric and epoch, the test value of the monitored
    metric (``test``; ``test_acc`` too, for classification)."""
    rows = []
    for path in runs.find_runs(root):
        try:
            meta = runs.live_meta(path)  # "running" with no live lock holder: interrupted
        except UserError:
            continue
        monitor = meta.get("monitor") or ""
        test = meta.get("test") or {}
        rows.append({"run": str(path), "task": meta.get("task"), "model": meta.get("model"),
                     "status": meta.get("status"), "monitor": monitor, "best": meta.get("best"),
                     "best_epoch": meta.get("best_epoch"), "epochs": f"{meta.get('epochs_done', 0)}/"
                     f"{meta.get('epochs')}", "test_acc": test.get("acc"),
                     "test": test.get(monitor.removeprefix("val_"))})
    return rows
