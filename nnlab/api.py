"""The composition root: configs become objects here and nowhere else.

``fit`` / ``evaluate`` / ``predict`` are the public API; the CLI and the web UI are thin layers over it.
"""
from __future__ import annotations

import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from nnlab import config as cfgmod
from nnlab.config import Config
from nnlab.data import ImageDataset, Preprocess
from nnlab.data.splits import load_subset, save_subset
from nnlab.engine import callbacks as cb
from nnlab.engine import checkpoint, distributed, running, runs
from nnlab.engine.ema import ModelEma
from nnlab.engine.runs import RunDir, read_meta  # noqa: F401  (public: the run layout for the CLI and web)
from nnlab.engine.trainer import Loader, Trainer, evaluate as evaluate_loader, resolve_device
from nnlab.errors import ConfigError, UserError
from nnlab.models import MODELS, transfer
from nnlab.models.losses import LOSSES
from nnlab.optim import OPTIMIZERS, build_optimizer, build_scheduler, check_options, check_schedule, lr_curve
from nnlab.tasks import TASKS, Task, TaskData
from nnlab.tasks.classify import load_classification_data

DEFAULT_RUNS = Path("runs")


@dataclass
class Run:
    """A finished (or stopped) training run."""

    dir: Path
    config: Config
    meta: dict[str, Any]

    @property
    def test(self) -> dict[str, float] | None:
        return self.meta.get("test")


# ------------------------------------------------------------------------------------------- builders
def build_task(cfg: Config) -> Task:
    """The config's task (``task: classify|generate|...``) holding the config."""
    return TASKS.build(cfg.task, cfg=cfg)


def validate(cfg: Config) -> Task:
    """Reject unknown names and options before any data is read or any run is created; the task."""
    task = build_task(cfg)
    task.check_model_options()
    transfer.options(cfg.model.args)
    if cfg.train.device == "cuda" and not torch.cuda.is_available():  # refused when queued, not when run
        raise ConfigError("config key 'train.device' is 'cuda' but this machine has no CUDA GPU (use auto or cpu)")
    check_options(cfg.optim.name, [*cfg.optim.args, *(["weight_decay"] if cfg.optim.weight_decay else [])])
    check_schedule(cfg.optim.schedule.name, cfg.optim.schedule.args, cfg.optim.schedule.per_step)
    if cfg.train.loss != "auto":
        LOSSES.get(cfg.train.loss)
    task.validate()
    return task


def build_model(name: str, num_classes: int, in_chans: int, input_size: tuple[int, int],
                **options: Any) -> nn.Module:
    """A registered classifier for data of the given shape; ``options`` are the model's own keywords."""
    return MODELS.build(name, num_classes=num_classes, in_chans=in_chans, input_size=tuple(input_size), **options)


def build_optim(cfg: Config, model: nn.Module, steps_per_epoch: int,
                mode: str = "max") -> tuple[torch.optim.Optimizer, Any]:
    """The config's optimizer (with its parameter groups) and learning-rate scheduler for a run whose epochs
    take ``steps_per_epoch`` optimizer steps."""
    o, s = cfg.optim, cfg.optim.schedule
    optimizer = build_optimizer(model, o.name, o.lr, o.weight_decay, no_decay_bias_norm=o.no_decay_bias_norm,
                                lr_mult=o.lr_mult, **o.args)
    total = cfg.train.epochs * (steps_per_epoch if s.per_step else 1)
    return optimizer, build_scheduler(optimizer, s.name, total=total, per_step=s.per_step, mode=mode, **s.args)


def optim_steps_per_epoch(cfg: Config, batches: int) -> int:
    """Optimizer steps per epoch of ``batches`` training batches (after gradient accumulation)."""
    return -(-batches // cfg.train.accumulate)


def lr_preview(config: Config | str | Path | dict, overrides: Sequence[str] = (),
               steps_per_epoch: int | None = None) -> tuple[Config, list[float], int]:
    """The config, the learning rate of every optimizer step of its run (before training) and the steps per
    epoch (the training split is read only for per-step schedules, unless ``steps_per_epoch`` is known)."""
    cfg, _ = _resolve_config(config, overrides, None, None)
    task = validate(cfg)
    per_epoch = 1
    if cfg.optim.schedule.per_step and steps_per_epoch:
        per_epoch = steps_per_epoch
    elif cfg.optim.schedule.per_step:
        data = task.load_data(progress=False)
        task.setup(task.build_model(data.info), data.info)  # a task's loader may need its runtime parts
        per_epoch = optim_steps_per_epoch(cfg, len(task.loader(data, "train", True)))
    lr = cfg.optim.lr or OPTIMIZERS[cfg.optim.name].lr
    s = cfg.optim.schedule
    return cfg, lr_curve(s.name, lr, cfg.train.epochs, per_epoch, s.per_step, **s.args), per_epoch


def build_data(cfg: Config, progress: bool = True, train_indices: Sequence[int] | np.ndarray | None = None,
               val_indices: Sequence[int] | np.ndarray | None = None) -> tuple[dict[str, ImageDataset], Preprocess]:
    """A classification config's image splits and the preprocessing fitted on its training split (what the
    experiments resample: bootstrap samples, cross-validation folds)."""
    data = load_classification_data(cfg, progress, train_indices, val_indices)
    return data.splits, Preprocess(**data.info["preprocess"])


def run_data(run_dir: str | Path, cfg: Config, progress: bool = False) -> TaskData:
    """The data a run was trained and validated on (its subset of the training split, if any)."""
    return build_task(cfg).load_data(progress, *load_subset(RunDir(run_dir).subset))


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ------------------------------------------------------------------------------------------- fit
def fit(config: Config | str | Path | dict, overrides: Sequence[str] = (), *, resume: str | Path | None = None,
        extend: str | Path | None = None, runs_root: str | Path = DEFAULT_RUNS, progress: bool = True,
        train_indices: Sequence[int] | np.ndarray | None = None, val_indices: Sequence[int] | np.ndarray | None = None,
        on_epoch: Callable[[int, dict[str, float]], str | None] | None = None) -> Run:
    """Train from a config (object, YAML path or dict) into a new run directory and test it.

    ``resume``: continue that stopped run exactly, in its own directory. ``extend``: start a new run from
    that run's final weights and optimizer state (e.g. more epochs or a new learning rate).
    ``train_indices`` / ``val_indices``: train (and validate) on chosen samples of the training split.
    ``on_epoch(epoch, metrics)``: called after each epoch; a returned string stops training with that reason.
    """
    cfg, source = _resolve_config(config, overrides, resume, extend)
    task = validate(cfg)
    _seed_everything(cfg.seed)
    if resume:
        train_indices, val_indices = load_subset(RunDir(resume).subset)
    s = _setup(cfg, task, source, progress, train_indices, val_indices)
    if s.dist.enabled and not s.dist.main:
        return _follow(cfg, s, resume, source)
    run = RunDir(resume) if resume else RunDir(s.dist.broadcast(runs.new_run_dir(runs_root, cfg.task, cfg.run_name)))
    with runs.RunLock(run.path):  # one process per run folder: a second --resume is refused
        _start_meta(cfg, s, run, resume, extend, train_indices, val_indices)
        if not s.loop:
            return _fit_without_loop(s.task, s.model, s.data, cfg, run, s.device, s.monitor)
        return _fit_loop(cfg, s, run, resume, source, progress, on_epoch)


@dataclass
class _Setup:
    """What ``fit`` builds before the run directory exists: data, model, loaders, optimizers, device."""

    task: Task
    data: TaskData
    model: nn.Module
    transfer: Any  # transfer.options of the config
    frozen: Any  # what transfer.apply loaded and froze
    device: torch.device
    dist: distributed.Dist
    train_loader: Loader
    val_loader: Loader | None
    monitor: str
    mode: str
    loop: bool  # False: the model learns without the training loop (kNN)
    built: dict[str, tuple[Any, Any]]  # (optimizer, scheduler) by the name of the part it trains
    net: nn.Module  # the module the task trains through (DDP over model in a distributed run)


def _setup(cfg: Config, task: Task, source: Path | None, progress: bool, train_indices: Any,
           val_indices: Any) -> _Setup:
    data = task.load_data(progress, train_indices, val_indices)
    model = task.build_model(data.info)
    tr = transfer.options(cfg.model.args)
    frozen = transfer.apply(model, None if source else tr.weights, tr.freeze, tr.reset_head,
                            None if source else tr.backbone_weights)
    device = resolve_device(cfg.train.device)
    dist = distributed.setup(device)  # one process unless torchrun started this one
    model.to(device)
    if cfg.train.channels_last:
        model.to(memory_format=torch.channels_last)
    task.setup(model, data.info)
    train_loader = task.loader(data, "train", train=True)
    val_loader = task.loader(data, "val") if "val" in data.splits else None
    monitor, mode = monitor_of(cfg, has_val=val_loader is not None)
    loop = not task.learns_without_loop(model)
    steps = optim_steps_per_epoch(cfg, len(train_loader))
    built = {name: build_optim(cfg, part, steps, mode) for name, part in task.optimizer_modules(model).items()
             } if loop else {}
    net: nn.Module = model
    if dist.enabled:
        train_loader, net = _data_parallel(task, model, train_loader, dist, loop)
    return _Setup(task, data, model, tr, frozen, device, dist, train_loader, val_loader, monitor, mode, loop,
                  built, net)


def _start_meta(cfg: Config, s: _Setup, run: RunDir, resume: str | Path | None, extend: str | Path | None,
                train_indices: Any, val_indices: Any) -> None:
    """A new run's config, meta.json and subset; a resumed run is marked running again."""
    if resume:
        runs.update_meta(run.path, status="running", epochs=cfg.train.epochs)
        return
    tr = s.transfer
    cfgmod.save(cfg, run.config)
    runs.update_meta(run.path, name=run.path.name, task=cfg.task, model=cfg.model.name,
                     **{"dataset": cfg.data.dataset, **s.data.info}, monitor=s.monitor, mode=s.mode,
                     epochs=cfg.train.epochs, status="running", extended_from=str(extend) if extend else None,
                     transfer=asdict(s.frozen) if tr.active else None)
    if train_indices is not None or val_indices is not None:
        save_subset(run.subset, train_indices, val_indices)


def _fit_loop(cfg: Config, s: _Setup, run: RunDir, resume: str | Path | None, source: Path | None, progress: bool,
              on_epoch: Callable[[int, dict[str, float]], str | None] | None) -> Run:
    """Train with the loop (resumed, or from ``source``'s weights when extending), then test."""
    if progress and s.transfer.active:
        print(s.frozen.describe(), file=sys.stderr)
    if cfg.train.compile:
        s.model.compile()
    if source is not None and not resume:  # --extend, before the EMA copies the weights
        running.load_for_extend(s.model, _optimizers(s.built), source)
    trainer = _trainer(cfg, s, _callbacks(cfg, s.task, run, on_epoch), progress)
    if resume:
        trainer.load_state_dict(checkpoint.load(run.last), s.train_loader)
    running.train(trainer, s.train_loader, s.val_loader, run)
    test = _test(s.task, trainer.eval_model, run, s.data, s.device, cfg)
    meta = runs.update_meta(run.path, status="stopped_early" if trainer.state.stop_reason else "completed",
                            message=trainer.state.stop_reason, test=test)
    return Run(run.path, cfg, meta)


def _callbacks(cfg: Config, task: Task, run: RunDir,
               on_epoch: Callable[[int, dict[str, float]], str | None] | None) -> list[cb.Callback]:
    t = cfg.train
    callbacks: list[cb.Callback] = [cb.OnEpoch(on_epoch)] if on_epoch is not None else []
    callbacks += [cb.Checkpoint(run, t.checkpoint.interval, t.checkpoint.keep_last), cb.CSVLogger(run.metrics)]
    callbacks += task.callbacks(run)
    if t.early_stopping.patience is not None:
        callbacks.append(cb.EarlyStopping(t.early_stopping.patience, t.early_stopping.min_delta))
    if t.tensorboard:
        callbacks.append(_tensorboard(run))
    return callbacks


def _data_parallel(task: Task, model: nn.Module, loader: Loader, dist: distributed.Dist,
                   loop: bool) -> tuple[Loader, nn.Module]:
    """The rank's share of each global batch and the module it trains through (DDP, or the model itself when
    its gradients are averaged after backward); refuses what cannot be trained data-parallel."""
    cfg = task.cfg
    distributed.check_task(cfg.task, task.data_parallel, cfg.train.batch_size, dist.world)
    if not loop:
        raise UserError(f"model {cfg.model.name!r} learns without a training loop; run it in one process")
    net = distributed.wrap(model, dist, task.trains_through_forward and not task.manual_optimization,
                           cfg.train.sync_bn)
    return distributed.ShardedLoader(loader, dist), net


def _optimizers(built: dict[str, tuple[Any, Any]]) -> dict[str, torch.optim.Optimizer]:
    return {k: o for k, (o, _) in built.items()}


def _trainer(cfg: Config, s: _Setup, callbacks: list[cb.Callback], progress: bool) -> Trainer:
    t = cfg.train
    ema = ModelEma(s.model, t.ema.decay, t.ema.warmup) if t.ema.decay is not None else None
    return Trainer(s.model, s.task, _optimizers(s.built), schedulers={k: v for k, (_, v) in s.built.items()},
                   epochs=t.epochs, device=s.device, accumulate=t.accumulate, precision=t.precision,
                   channels_last=t.channels_last, callbacks=callbacks, monitor=s.monitor, mode=s.mode,
                   progress=progress and s.dist.main, clip_norm=t.clip_norm, clip_value=t.clip_value, dist=s.dist,
                   net=s.net, ema=ema)


def _follow(cfg: Config, s: _Setup, resume: str | Path | None, source: Path | None) -> Run:
    """A rank other than 0: trains its share in step with the others and writes nothing (rank 0 owns the run
    directory, checkpoints, logs and the test)."""
    path = Path(resume) if resume else Path(s.dist.broadcast(None))
    if source is not None and not resume:  # --extend: the same weights and optimizer state as rank 0
        running.load_for_extend(s.model, _optimizers(s.built), source)
    trainer = _trainer(cfg, s, [], False)
    if resume:
        trainer.load_state_dict(checkpoint.load(RunDir(path).last), s.train_loader)
    trainer.fit(s.train_loader, s.val_loader)
    return Run(path, cfg, {})


def _resolve_config(config: Config | str | Path | dict | None, overrides: Sequence[str],
                    resume: str | Path | None, extend: str | Path | None) -> tuple[Config, Path | None]:
    if resume and extend:
        raise UserError("use either --resume or --extend, not both")
    source = resume or extend
    if source is None:
        if config is None:
            raise UserError("no config given")
        if isinstance(config, Config):
            return cfgmod.from_dict(cfgmod.apply_overrides(cfgmod.to_dict(config), overrides)), None
        if isinstance(config, dict):
            return cfgmod.from_dict(cfgmod.apply_overrides(config, overrides)), None
        return cfgmod.load(config, overrides), None
    meta = runs.read_meta(source)
    if resume:
        runs.check_not_training(source)  # fail before reading any data; RunLock in fit closes the race
    if not RunDir(source).last.is_file():
        raise UserError(f"{source} has no checkpoint to continue from (checkpoints/last.pt)")
    if resume:
        bad = [o for o in overrides if not o.lstrip("-").startswith("train.epochs=")]
        if bad:
            raise UserError(f"--resume continues a run exactly; it takes no overrides but train.epochs "
                            f"(got {', '.join(bad)}); use --extend to change settings")
        if meta.get("status") == "completed" and not overrides:
            raise UserError(f"{source} already completed all its epochs; use --extend {source} --epochs N "
                            "to train it further")
    cfg = cfgmod.load(RunDir(source).config, overrides)
    return cfg, Path(source)


def monitor_of(cfg: Config, has_val: bool = True) -> tuple[str, str]:
    """The metric that picks ``best.pt`` (``train.monitor``, else the task's; without ``val_`` when there is
    no validation split) and its mode: the task's own for its metric, else ``min`` for losses, ``max`` else."""
    task = TASKS.get(cfg.task)
    name, mode = cfg.train.monitor or task.monitor, cfg.train.mode
    if not has_val:
        name = name.removeprefix("val_")
    if mode != "auto":
        return name, mode
    if name.removeprefix("val_") == task.monitor.removeprefix("val_"):
        return name, task.mode
    return name, "min" if "loss" in name else "max"


def _fit_without_loop(task: Task, model: nn.Module, data: TaskData, cfg: Config, run: RunDir,
                      device: torch.device, monitor: str) -> Run:
    """Models that learn in ``task.learn_without_loop`` (kNN): learn, validate, save, test."""
    t0 = time.perf_counter()
    stats = task.learn_without_loop(model, data, device) or {}
    runs.update_meta(run.path, fit={**stats, "seconds": round(time.perf_counter() - t0, 3)})
    metrics: dict[str, float] = {}
    if "val" in data.splits:
        metrics = {f"val_{k}": v for k, v in evaluate_loader(model, task.loader(data, "val"), task.evaluator(),
                                                             device).items()}
    cb.CSVLogger(run.metrics).log(1, metrics)
    checkpoint.save({"model": model.state_dict(), "epoch": 1, "metric": metrics.get(monitor), "monitor": monitor},
                    run.best)
    test = _test(task, model, run, data, device, cfg)
    meta = runs.update_meta(run.path, status="completed", epochs_done=1, best=metrics.get(monitor), best_epoch=1,
                            test=test)
    return Run(run.path, cfg, meta)


def _tensorboard(run: RunDir) -> cb.Callback:
    try:
        return cb.TensorBoard(run.tensorboard)
    except ImportError:
        raise UserError("train.tensorboard needs the tensorboard package: pip install tensorboard") from None


def _test(task: Task, model: nn.Module, run: RunDir, data: TaskData, device: torch.device,
          cfg: Config) -> dict[str, float] | None:
    """Test metrics of the best checkpoint (the last weights when there is no best)."""
    if "test" not in data.splits:
        return None
    if run.best.is_file():
        model.load_state_dict(checkpoint.load(run.best, device)["model"])
    return evaluate_loader(model, task.loader(data, "test"), task.evaluator(), device, cfg.train.precision,
                           cfg.train.channels_last)
