"""The composition root: configs become objects here and nowhere else.

``fit`` / ``evaluate`` / ``predict`` are the public API; the CLI and the web UI are thin layers over it.
"""
from __future__ import annotations

import random
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from nnlab import config as cfgmod
from nnlab.config import Config
from nnlab.data import Preprocess, TensorLoader, augment, load_splits
from nnlab.data.dataset import ImageDataset
from nnlab.data.splits import load_subset, make_splits, save_subset, select_classes, select_subset
from nnlab.engine import callbacks as cb
from nnlab.engine import checkpoint, runs
from nnlab.engine.losses import LOSSES, AuxiliaryLoss
from nnlab.engine.trainer import Trainer, evaluate as evaluate_loader, resolve_device
from nnlab.errors import ConfigError, TrainingStopped, UserError
from nnlab.models import DATA_ARGS, MODELS, check_option_types, transfer
from nnlab.optim import OPTIMIZERS, build_optimizer, build_scheduler, check_options, check_schedule, lr_curve
from nnlab import regularize

DEFAULT_RUNS = Path("runs")
SUBSET_FILE = "subset.npz"  # a run's training-sample indices when it was trained on a subset


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
def validate(cfg: Config) -> None:
    """Reject unknown names and options before any data is read or any run is created."""
    model_opts = MODELS.options(cfg.model.name, exclude=DATA_ARGS)
    transfer.options(cfg.model.args)
    for key in cfg.model.args:
        if key not in model_opts and key not in transfer.KEYS:
            raise ConfigError(f"unknown config key 'model.{key}' for model {cfg.model.name!r} "
                              f"(it takes: {', '.join(model_opts) or 'no options'})")
    check_option_types(cfg.model.name, cfg.model.args)
    if cfg.train.device == "cuda" and not torch.cuda.is_available():  # refused when queued, not when run
        raise ConfigError("config key 'train.device' is 'cuda' but this machine has no CUDA GPU (use auto or cpu)")
    check_options(cfg.optim.name, [*cfg.optim.args, *(["weight_decay"] if cfg.optim.weight_decay else [])])
    check_schedule(cfg.optim.schedule.name, cfg.optim.schedule.args, cfg.optim.schedule.per_step)
    if cfg.train.loss != "auto":
        LOSSES.get(cfg.train.loss)
    regularize.check_mixable(cfg.task, cfg.regularize.mixup, cfg.regularize.cutmix)
    augment.check(cfg.augment, cfg.data)


def build_model(name: str, num_classes: int, in_chans: int, input_size: tuple[int, int],
                **options: Any) -> nn.Module:
    """A registered model for data of the given shape; ``options`` are the model's own keywords."""
    return MODELS.build(name, num_classes=num_classes, in_chans=in_chans, input_size=tuple(input_size), **options)


def build_loss(name: str, model: nn.Module) -> nn.Module:
    if name == "auto":
        loss_name, options = getattr(model, "default_loss", ("cross_entropy", {}))
        loss = LOSSES.build(loss_name, **options)
    else:
        loss = LOSSES.build(name)
    if hasattr(model, "pop_aux"):  # auxiliary classifiers (GoogLeNet) add their weighted losses in training
        loss = AuxiliaryLoss(loss, model.pop_aux, model.aux_weight)
    return loss


def build_data(cfg: Config, progress: bool = True, train_indices: Sequence[int] | np.ndarray | None = None,
               val_indices: Sequence[int] | np.ndarray | None = None) -> tuple[dict[str, ImageDataset], Preprocess]:
    """The config's splits; ``train_indices`` / ``val_indices`` pick samples of the training split to train
    and validate on (bootstrap samples, cross-validation folds; see ``nnlab.data.splits.select_subset``)."""
    d = cfg.data
    raw = load_splits(d.dataset, path=d.path, download=d.download, image_size=d.image_size,
                      channels=d.channels, resize_mode=d.resize_mode, progress=progress)
    raw = select_classes(raw, d.classes) if d.classes is not None else raw
    seed = cfg.seed if d.split_seed is None else d.split_seed
    splits = select_subset(make_splits(raw, d.val_fraction, d.test_fraction, d.train_size, seed),
                           train_indices, val_indices)
    return splits, Preprocess.fit(splits["train"].images, d.resize_mode, d.normalize)


def build_optim(cfg: Config, model: nn.Module, steps_per_epoch: int,
                mode: str = "max") -> tuple[torch.optim.Optimizer, Any]:
    """The config's optimizer (with its parameter groups) and learning-rate scheduler for a run whose epochs
    take ``steps_per_epoch`` optimizer steps."""
    o, s = cfg.optim, cfg.optim.schedule
    optimizer = build_optimizer(model, o.name, o.lr, o.weight_decay, no_decay_bias_norm=o.no_decay_bias_norm,
                                lr_mult=o.lr_mult, **o.args)
    total = cfg.train.epochs * (steps_per_epoch if s.per_step else 1)
    return optimizer, build_scheduler(optimizer, s.name, total=total, per_step=s.per_step, mode=mode, **s.args)


def optim_steps_per_epoch(cfg: Config, n_train: int) -> int:
    """Optimizer steps per epoch on ``n_train`` training samples (batches, then gradient accumulation)."""
    batches = 1 if cfg.train.batch_size == "full" else -(-n_train // cfg.train.batch_size)
    return -(-batches // cfg.train.accumulate)


def lr_preview(config: Config | str | Path | dict, overrides: Sequence[str] = ()) -> tuple[Config, list[float], int]:
    """The config, the learning rate of every optimizer step of its run (before training) and the steps per
    epoch (the training split is read only for per-step schedules)."""
    cfg, _ = _resolve_config(config, overrides, None, None)
    validate(cfg)
    per_epoch = 1
    if cfg.optim.schedule.per_step:
        per_epoch = optim_steps_per_epoch(cfg, len(build_data(cfg, progress=False)[0]["train"]))
    lr = cfg.optim.lr or OPTIMIZERS[cfg.optim.name].lr
    s = cfg.optim.schedule
    return cfg, lr_curve(s.name, lr, cfg.train.epochs, per_epoch, s.per_step, **s.args), per_epoch


def build_train_hooks(cfg: Config, pre: Preprocess, num_classes: int
                      ) -> tuple[regularize.BatchTransform | None, regularize.StepRegularizer | None]:
    """The training batch transform (augmentation, input noise, soft targets) and the step regularizer
    (penalty, weight noise). Evaluation and prediction never use either."""
    step, targets = regularize.build(cfg.regularize, num_classes)
    return regularize.chain(augment.build(cfg.augment, pre), targets), step


def run_data(run_dir: str | Path, cfg: Config, progress: bool = False) -> dict[str, ImageDataset]:
    """The splits a run was trained and validated on (its subset of the training split, if any)."""
    return build_data(cfg, progress, *load_subset(Path(run_dir) / SUBSET_FILE))[0]


def _model_for(cfg: Config, classes: list[str], pre: Preprocess) -> nn.Module:
    return build_model(cfg.model.name, len(classes), pre.channels, (pre.height, pre.width),
                       **transfer.builder_options(cfg.model.args))


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
    validate(cfg)
    _seed_everything(cfg.seed)
    if resume:
        train_indices, val_indices = load_subset(Path(resume) / SUBSET_FILE)
    splits, pre = build_data(cfg, progress, train_indices, val_indices)
    classes = splits["train"].classes
    model = _model_for(cfg, classes, pre)
    tr = transfer.options(cfg.model.args)
    frozen = transfer.apply(model, None if source else tr.weights, tr.freeze, tr.reset_head)
    t = cfg.train
    device = resolve_device(t.device)
    model.to(device)
    if t.channels_last:
        model.to(memory_format=torch.channels_last)
    loss_fn = build_loss(t.loss, model)
    batch = None if t.batch_size == "full" else t.batch_size
    train_transform, step_regularizer = build_train_hooks(cfg, pre, len(classes))
    train_loader = TensorLoader(splits["train"], pre, batch, shuffle=True, seed=cfg.seed, num_workers=t.num_workers,
                                transform=train_transform)
    val_loader = TensorLoader(splits["val"], pre, t.eval_batch_size) if "val" in splits else None
    monitor = t.monitor if val_loader is not None else t.monitor.removeprefix("val_")
    mode = t.mode if t.mode != "auto" else ("min" if "loss" in monitor else "max")
    optimizer, scheduler = (build_optim(cfg, model, optim_steps_per_epoch(cfg, len(splits["train"])), mode)
                            if getattr(model, "needs_training", True) else (None, None))

    run_dir = Path(resume) if resume else runs.new_run_dir(runs_root, cfg.task, cfg.run_name)
    with runs.RunLock(run_dir):  # one process per run folder: a second --resume is refused
        if not resume:
            cfgmod.save(cfg, run_dir / "config.yaml")
            runs.update_meta(run_dir, name=run_dir.name, task=cfg.task, model=cfg.model.name, dataset=cfg.data.dataset,
                             classes=classes, preprocess=pre.to_dict(), monitor=monitor, mode=mode, epochs=t.epochs,
                             status="running", extended_from=str(extend) if extend else None,
                             transfer=asdict(frozen) if tr.weights or tr.freeze else None)
            if train_indices is not None or val_indices is not None:
                save_subset(run_dir / SUBSET_FILE, train_indices, val_indices)
        else:
            runs.update_meta(run_dir, status="running", epochs=t.epochs)
        if not getattr(model, "needs_training", True):
            return _fit_memorizer(model, splits, pre, loss_fn, cfg, run_dir, device, monitor)

        if progress and (tr.weights or tr.freeze):
            print(frozen.describe(), file=sys.stderr)
        if t.compile:
            model.compile()
        callbacks: list[cb.Callback] = [cb.OnEpoch(on_epoch)] if on_epoch is not None else []
        callbacks += [
            cb.Checkpoint(run_dir / "checkpoints", t.checkpoint.interval, t.checkpoint.keep_last),
            cb.CSVLogger(run_dir / "metrics.csv"),
        ]
        if t.early_stopping.patience is not None:
            callbacks.append(cb.EarlyStopping(t.early_stopping.patience, t.early_stopping.min_delta))
        if t.tensorboard:
            callbacks.append(_tensorboard(run_dir))
        trainer = Trainer(model, optimizer, loss_fn, epochs=t.epochs, device=device, accumulate=t.accumulate,
                          precision=t.precision, channels_last=t.channels_last, callbacks=callbacks,
                          monitor=monitor, mode=mode, progress=progress, scheduler=scheduler,
                          clip_norm=t.clip_norm, clip_value=t.clip_value, regularizer=step_regularizer)
        if resume:
            trainer.load_state_dict(checkpoint.load(run_dir / "checkpoints" / "last.pt"), train_loader)
        elif source is not None:
            _load_for_extend(model, optimizer, Path(source))
        _train(trainer, train_loader, val_loader, run_dir)
        test = _test(model, run_dir, splits, pre, loss_fn, device, cfg)
        meta = runs.update_meta(run_dir, status="stopped_early" if trainer.state.stop_reason else "completed",
                                message=trainer.state.stop_reason, test=test)
        return Run(run_dir, cfg, meta)


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
    if not (Path(source) / "checkpoints" / "last.pt").is_file():
        raise UserError(f"{source} has no checkpoint to continue from (checkpoints/last.pt)")
    if resume:
        bad = [o for o in overrides if not o.lstrip("-").startswith("train.epochs=")]
        if bad:
            raise UserError(f"--resume continues a run exactly; it takes no overrides but train.epochs "
                            f"(got {', '.join(bad)}); use --extend to change settings")
        if meta.get("status") == "completed" and not overrides:
            raise UserError(f"{source} already completed all its epochs; use --extend {source} --epochs N "
                            "to train it further")
    cfg = cfgmod.load(Path(source) / "config.yaml", overrides)
    return cfg, Path(source)


def _load_for_extend(model: nn.Module, optimizer: torch.optim.Optimizer, source: Path) -> None:
    """Weights and optimizer state (moments, step counts) of a finished run; this run's hyper-parameters
    (lr, momentum, ...) win over the saved ones. A different optimizer, or a different parameter-group layout
    (e.g. a new ``optim.lr_mult``), starts with fresh state."""
    ckpt = checkpoint.load(source / "checkpoints" / "last.pt")
    model.load_state_dict(ckpt["model"])
    if ckpt.get("optimizer_class") != type(optimizer).__name__:
        print("note: the optimizer changed; its state starts fresh", file=sys.stderr)
        return
    saved = [len(g["params"]) for g in ckpt["optimizer"]["param_groups"]]
    if saved != [len(g["params"]) for g in optimizer.param_groups]:
        print("note: the parameter groups changed (lr_mult, frozen layers or weight-decay groups); the optimizer "
              "state starts fresh", file=sys.stderr)
        return
    hyper = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    optimizer.load_state_dict(ckpt["optimizer"])
    for group, h in zip(optimizer.param_groups, hyper):
        group.update(h)


def _train(trainer: Trainer, train_loader: TensorLoader, val_loader: TensorLoader | None, run_dir: Path) -> None:
    try:
        trainer.fit(train_loader, val_loader)
    except KeyboardInterrupt:
        st = trainer.state
        runs.update_meta(run_dir, status="interrupted", epochs_done=st.epoch, best=st.best, best_epoch=st.best_epoch)
        where = f"epoch {st.epoch + 1}, batch {st.batch}/{len(train_loader)}" if st.batch else f"epoch {st.epoch}"
        raise TrainingStopped(f"interrupted at {where}; checkpoint saved in {run_dir / 'checkpoints'}.\n"
                              f"Resume with: nnlab train --resume {run_dir}", exit_code=130) from None
    except TrainingStopped as e:
        runs.update_meta(run_dir, status="failed", message=f"{e} {runs.checkpoint_note(run_dir)}")
        raise TrainingStopped(f"{e} {runs.checkpoint_note(run_dir)}\nRun directory: {run_dir}") from None
    except (MemoryError, torch.OutOfMemoryError) as e:
        msg = (f"out of memory ({type(e).__name__}); lower train.batch_size (now {train_loader.batch_size}) "
               f"or use a smaller model. {runs.checkpoint_note(run_dir)}")
        runs.update_meta(run_dir, status="failed", message=msg)
        raise TrainingStopped(f"{msg}\nRun directory: {run_dir}") from None
    except Exception as e:  # a bug, not a user error: keep the traceback, but never leave the run "running"
        runs.update_meta(run_dir, status="failed", message=f"{type(e).__name__}: {e}")
        raise
    finally:
        st = trainer.state
        runs.update_meta(run_dir, epochs_done=st.epoch, best=st.best, best_epoch=st.best_epoch)


def _fit_memorizer(model: nn.Module, splits: dict[str, ImageDataset], pre: Preprocess, loss_fn: nn.Module,
                   cfg: Config, run_dir: Path, device: torch.device, monitor: str) -> Run:
    """Models without a training loop (kNN): memorize the training set, then validate and test."""
    train = splits["train"]
    model.memorize(pre.normalize(train.images).to(device), train.labels.to(device))
    metrics: dict[str, float] = {}
    if "val" in splits:
        loader = TensorLoader(splits["val"], pre, cfg.train.eval_batch_size)
        metrics = {f"val_{k}": v for k, v in evaluate_loader(model, loader, loss_fn, device).items()}
    cb.CSVLogger(run_dir / "metrics.csv").log(1, metrics)
    ckpt = {"model": model.state_dict(), "epoch": 1, "metric": metrics.get(monitor), "monitor": monitor}
    checkpoint.save(ckpt, run_dir / "checkpoints" / "best.pt")
    test = _test(model, run_dir, splits, pre, loss_fn, device, cfg)
    meta = runs.update_meta(run_dir, status="completed", epochs_done=1, best=metrics.get(monitor), best_epoch=1,
                            test=test)
    return Run(run_dir, cfg, meta)


def _tensorboard(run_dir: Path) -> cb.Callback:
    try:
        return cb.TensorBoard(run_dir / "tensorboard")
    except ImportError:
        raise UserError("train.tensorboard needs the tensorboard package: pip install tensorboard") from None


def _test(model: nn.Module, run_dir: Path, splits: dict[str, ImageDataset], pre: Preprocess, loss_fn: nn.Module,
          device: torch.device, cfg: Config) -> dict[str, float] | None:
    """Test accuracy of the best checkpoint (the last weights when there is no best)."""
    if "test" not in splits:
        return None
    best = run_dir / "checkpoints" / "best.pt"
    if best.is_file():
        model.load_state_dict(checkpoint.load(best, device)["model"])
    loader = TensorLoader(splits["test"], pre, cfg.train.eval_batch_size)
    return evaluate_loader(model, loader, loss_fn, device, cfg.train.precision, cfg.train.channels_last)
