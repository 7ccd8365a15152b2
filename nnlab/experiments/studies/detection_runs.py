"""What the learned-detector studies (neck, one-vs-two-stage) measure the same way: a digit-scenes config, one
``nnlab.fit`` run, its test mAP by object size, parameters, and training / inference images per CPU-second.

Speed is counted in CPU seconds of this process (``time.process_time``) at one thread: on a shared machine the
wall clock measures the neighbours; CPU seconds measure the network. Throughput is timed on the run's own
loaders after training (``TIMED_BATCHES`` batches, one warm-up batch first)."""
from __future__ import annotations

import time
from itertools import islice
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import torch

from nnlab.api import run_data
from nnlab.config import apply_overrides
from nnlab.experiments.studies.report import StudyContext
from nnlab.inference import LoadedRun, load_run

TIMED_BATCHES = 6


@dataclass
class Measured:
    map50: float
    map: float
    small: float  # mAP@[.5:.95] of objects under 32^2 pixels (COCO's areas; nan when the test set has none)
    medium: float
    large: float
    params: int
    train_ips: float  # training images per CPU-second (forward, losses, backward, optimizer step)
    eval_ips: float  # inference images per CPU-second (eval mode, with NMS)
    train_cpu_s: float  # CPU seconds the whole fit took (epochs, validation)


def scenes_config(name: str, model: dict[str, Any], *, n: int, n_test: int, epochs: int, seed: int = 0,
                  scale: tuple[float, float] = (0.5, 2.0), size: int = 128, lr: float = 0.003,
                  batch_size: int = 32) -> dict[str, Any]:
    """One detector on generated digit scenes (1-5 MNIST digits on clutter): AdamW, one-cycle, light scale /
    translate augmentation, 10% of train for validation, no checkpoints kept but the best."""
    return {"name": name, "task": "detect", "seed": seed,
            "data": {"dataset": "scenes", "image_size": [size, size], "val_fraction": 0.1, "split_seed": 0},
            "detect": {"scenes": {"n": n, "n_test": n_test, "digits": [1, 5], "scale": list(scale),
                                  "clutter": True}},
            "model": model, "augment": {"scale": [0.8, 1.2], "translate": 0.1},
            "optim": {"name": "adamw", "lr": lr, "schedule": {"name": "onecycle", "per_step": True}},
            "train": {"epochs": epochs, "batch_size": batch_size, "channels_last": True,
                      "checkpoint": {"keep_last": 0}}}


def with_overrides(ctx: StudyContext, config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with the command line's ``--section.key=value`` overrides on top (e.g. ``--train.epochs=5``):
    these studies build their configs in code, so without this the overrides would be dropped silently."""
    return apply_overrides(config, list(ctx.overrides))


def measure(ctx: StudyContext, config: dict[str, Any]) -> Measured:
    """Train ``config`` (with the overrides), then its test mAP by size (best weights) and its throughput."""
    cpu0 = time.process_time()
    run = ctx.fit(with_overrides(ctx, config))
    train_cpu = time.process_time() - cpu0
    loaded = load_run(run.dir)
    data = run_data(run.dir, run.config)
    stats = size_stats(loaded, data)
    return Measured(stats["mAP50"], stats["mAP"], stats["mAP_small"], stats["mAP_medium"], stats["mAP_large"],
                    sum(p.numel() for p in loaded.model.parameters()), throughput(loaded, data, train=True),
                    throughput(loaded, data, train=False), train_cpu)


def size_stats(run: LoadedRun, data: Any) -> dict[str, float]:
    """The COCO statistics of the test split (all areas), through the task's own evaluator."""
    evaluator = run.task.evaluator()
    run.model.eval()
    with torch.inference_mode():
        for batch in run.task.loader(data, "test"):
            evaluator.update(run.model, batch)
    evaluator.compute()
    return {k: float("nan") if v < 0 else v for k, v in evaluator.result.stats.items()}  # -1: no such objects


def throughput(run: LoadedRun, data: Any, train: bool, batches: int = TIMED_BATCHES) -> float:
    """Images per CPU-second: training steps (SGD at lr 0: the same work, weights unchanged) or inference."""
    loader = run.task.loader(data, "train" if train else "test", train=train)
    model, task = run.model, run.task
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    model.train(train)
    images, spent = 0, 0.0
    for i, (x, targets) in enumerate(islice(cycle_batches(loader), batches + 1)):
        t0 = time.process_time()
        if train:
            loss, _ = task.training_step(model, (x, targets))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        else:
            with torch.inference_mode():
                task.detect(model, x)
        if i > 0:  # the first batch warms up (allocations, lazy imports)
            images, spent = images + len(x), spent + time.process_time() - t0
    model.eval()
    return images / max(spent, 1e-9)


def cycle_batches(loader: Iterable[Any]) -> Iterator[Any]:
    """The loader's batches over and over (a small test split still gives enough batches to time)."""
    while True:
        yield from loader
