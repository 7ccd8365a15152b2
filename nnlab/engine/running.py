"""Running a built trainer inside its run directory: starting from another run's weights (``--extend``) and
training with every way of stopping (Ctrl-C, a non-finite loss, out of memory, a bug, a lost peer) recorded in
the run's meta.json, so a run is never left marked ``running``."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nnlab.engine import checkpoint, distributed, runs
from nnlab.engine.runs import RunDir
from nnlab.engine.trainer import Trainer, saved_optimizer_classes, saved_optimizers
from nnlab.errors import TrainingStopped


def load_for_extend(model: nn.Module, optimizers: dict[str, torch.optim.Optimizer], source: Path) -> None:
    """Weights and optimizer state (moments, step counts) of a finished run; this run's hyper-parameters
    (lr, momentum, ...) win over the saved ones. A different optimizer, or a different parameter-group layout
    (e.g. a new ``optim.lr_mult``), starts with fresh state."""
    ckpt = checkpoint.load(RunDir(source).last)
    model.load_state_dict(ckpt["model"])
    states, classes = saved_optimizers(ckpt), saved_optimizer_classes(ckpt)
    for name, optimizer in optimizers.items():
        if name not in states or classes.get(name) != type(optimizer).__name__:
            print("note: the optimizer changed; its state starts fresh", file=sys.stderr)
            continue
        saved = [len(g["params"]) for g in states[name]["param_groups"]]
        if saved != [len(g["params"]) for g in optimizer.param_groups]:
            print("note: the parameter groups changed (lr_mult, frozen layers or weight-decay groups); the "
                  "optimizer state starts fresh", file=sys.stderr)
            continue
        hyper = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
        optimizer.load_state_dict(states[name])
        for group, h in zip(optimizer.param_groups, hyper):
            group.update(h)


def train(trainer: Trainer, train_loader: Any, val_loader: Any, run: RunDir) -> None:
    try:
        trainer.fit(train_loader, val_loader)
    except KeyboardInterrupt:
        st = trainer.state
        runs.update_meta(run.path, status="interrupted", epochs_done=st.epoch, best=st.best, best_epoch=st.best_epoch)
        where = f"epoch {st.epoch + 1}, batch {st.batch}/{len(train_loader)}" if st.batch else f"epoch {st.epoch}"
        raise TrainingStopped(f"interrupted at {where}; checkpoint saved in {run.checkpoints}.\n"
                              f"Resume with: nnlab train --resume {run.path}", exit_code=130) from None
    except TrainingStopped as e:
        runs.update_meta(run.path, status="failed", message=f"{e} {runs.checkpoint_note(run.path)}")
        raise TrainingStopped(f"{e} {runs.checkpoint_note(run.path)}\nRun directory: {run.path}") from None
    except (MemoryError, torch.OutOfMemoryError) as e:
        msg = (f"out of memory ({type(e).__name__}); lower train.batch_size (now {train_loader.batch_size}) "
               f"or use a smaller model. {runs.checkpoint_note(run.path)}")
        runs.update_meta(run.path, status="failed", message=msg)
        raise TrainingStopped(f"{msg}\nRun directory: {run.path}") from None
    except Exception as e:  # a bug, not a user error: keep the traceback, but never leave the run "running"
        if trainer.dist.enabled and distributed.peer_lost(e):
            msg = f"another process of this distributed run stopped ({str(e).splitlines()[0][:160]})"
            runs.update_meta(run.path, status="failed", message=msg)
            raise TrainingStopped(f"{msg}. {runs.checkpoint_note(run.path)}\nRun directory: {run.path}") from None
        runs.update_meta(run.path, status="failed", message=f"{type(e).__name__}: {e}")
        raise
    finally:
        st = trainer.state
        runs.update_meta(run.path, epochs_done=st.epoch, best=st.best, best_epoch=st.best_epoch)
