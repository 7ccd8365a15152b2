"""The training loop: forward, loss, backward, step, visible top to bottom (nanoGPT style).

Batch GD, SGD and mini-batch GD differ only in the loader's batch size (notes: 경사하강법 / SGD / MSGD).
"""
from __future__ import annotations

import contextlib
import math
import random
import signal
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Iterator, Protocol

import numpy as np
import torch
from torch import nn

from nnlab.engine.callbacks import Callback
from nnlab.engine.metrics import hard_labels
from nnlab.engine.progress import Progress
from nnlab.errors import TrainingStopped


class Loader(Protocol):
    """What the trainer needs of a data loader; ``nnlab.data.TensorLoader`` is the usual one."""

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...
    def __len__(self) -> int: ...


@dataclass
class TrainState:
    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps taken
    batch: int = 0  # batches done in the current epoch (non-zero only after an interrupt)
    partial: dict[str, float] = field(default_factory=dict)  # running sums of the interrupted epoch
    best: float | None = None
    best_epoch: int | None = None
    stop_reason: str | None = None


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; nothing else assumes a CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingStopped("device 'cuda' was asked for but no CUDA GPU is available (use device: auto)")
    return torch.device(name)


def evaluate(model: nn.Module, loader: Iterable, loss_fn: nn.Module, device: torch.device,
             precision: str = "fp32", channels_last: bool = False) -> dict[str, float]:
    """Mean loss and top-1 accuracy over a loader, in inference mode."""
    model.eval()
    loss_sum, correct, count = 0.0, 0, 0
    with torch.inference_mode(), _autocast(device, precision):
        for x, y in loader:
            x, y = _to(x, device, channels_last), y.to(device, non_blocking=True)
            out = model(x)
            loss_sum += float(loss_fn(out, y)) * len(y)
            correct += int((out.argmax(1) == hard_labels(y)).sum())
            count += len(y)
    return {"loss": loss_sum / max(count, 1), "acc": correct / max(count, 1)}


class Trainer:
    """Runs epochs of training and validation and calls the callbacks at a few hook points."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: nn.Module, *,
                 epochs: int, device: torch.device, accumulate: int = 1, precision: str = "fp32",
                 channels_last: bool = False, scheduler: Any = None, callbacks: Iterable[Callback] = (),
                 monitor: str = "val_acc", mode: str = "max", progress: bool = True,
                 clip_norm: float | None = None, clip_value: float | None = None, regularizer: Any = None) -> None:
        """``regularizer``: optional step hook with ``forward(model, x)`` (e.g. weight noise) and
        ``penalty(model)`` (an extra loss term, logged as ``penalty``); see nnlab.regularize."""
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.regularizer = regularizer
        self.epochs, self.device, self.accumulate = epochs, device, accumulate
        self.precision, self.channels_last = precision, channels_last
        self.scheduler = scheduler
        self.clip_norm, self.clip_value = clip_norm, clip_value
        self.callbacks = list(callbacks)
        self.monitor, self.mode = monitor, mode
        self.progress = progress
        self.state = TrainState()
        self.train_loader: Any = None
        self._stop_requested = False

    # ----------------------------------------------------------------------------- the loop
    def fit(self, train_loader: Loader, val_loader: Loader | None = None) -> TrainState:
        self.train_loader = train_loader
        self._call("on_fit_start")
        bar = Progress(total=self.epochs * len(train_loader), done=self.state.epoch * len(train_loader)
                       + self.state.batch, enabled=self.progress)
        with bar, self._graceful_sigint():
            while self.state.epoch < self.epochs and self.state.stop_reason is None:
                self._call("on_epoch_start")
                t0 = time.perf_counter()
                metrics = self.train_one_epoch(train_loader, bar)
                if val_loader is not None:
                    val = evaluate(self.model, val_loader, self.loss_fn, self.device,
                                   self.precision, self.channels_last)
                    metrics.update({f"val_{k}": v for k, v in val.items()})
                metrics["lr"] = self.optimizer.param_groups[0]["lr"]
                metrics["time"] = time.perf_counter() - t0
                self._end_epoch(metrics)
                bar.write(_format_epoch(self.state.epoch, self.epochs, metrics))
        self._call("on_fit_end")
        return self.state

    def train_one_epoch(self, loader: Loader, bar: Progress | None = None) -> dict[str, float]:
        self.model.train()
        sums = {"loss": 0.0, "correct": 0.0, "count": 0.0, **self.state.partial}
        correct = torch.zeros((), dtype=torch.int64, device=self.device)  # summed on device: no sync per batch
        batches = iter(loader)
        for i, (x, y) in enumerate(batches, start=self.state.batch):
            x, y = _to(x, self.device, self.channels_last), y.to(self.device, non_blocking=True)
            out, loss, penalty = self._forward(x, y)
            ((loss if penalty is None else loss + penalty) / self.accumulate).backward()
            if (i + 1) % self.accumulate == 0 or i + 1 == len(loader):
                self._step(x, y)
                self.optimizer.zero_grad(set_to_none=True)
                self.state.step += 1
                if self.scheduler is not None and getattr(self.scheduler, "per_step", False):
                    self.scheduler.step()
            value = loss.item()
            if not math.isfinite(value):
                raise TrainingStopped(
                    f"loss became {value} at epoch {self.state.epoch + 1}, batch {i + 1}; training stopped. "
                    "Lower the learning rate (optim.lr) or check the data.")
            sums["loss"] += value * len(y)
            if penalty is not None:
                sums["penalty"] = sums.get("penalty", 0.0) + penalty.item() * len(y)
            correct += (out.argmax(1) == hard_labels(y)).sum()
            sums["count"] += len(y)
            self.state.batch = i + 1
            self._call("on_batch_end", value)
            if bar is not None:
                bar.update(value)
            if self._stop_requested:
                self.state.partial = {**sums, "correct": sums["correct"] + int(correct)}
                raise KeyboardInterrupt
        sums["correct"] += int(correct)
        self.state.batch, self.state.partial = 0, {}
        extra = {"penalty": sums["penalty"] / max(sums["count"], 1)} if "penalty" in sums else {}
        return {"loss": sums["loss"] / max(sums["count"], 1), "acc": sums["correct"] / max(sums["count"], 1), **extra}

    def _forward(self, x: torch.Tensor, y: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Training forward pass: outputs, data loss and the regularizer's penalty (None without one)."""
        with _autocast(self.device, self.precision):
            out = self.model(x) if self.regularizer is None else self.regularizer.forward(self.model, x)
            loss = self.loss_fn(out, y)
        penalty = self.regularizer.penalty(self.model) if self.regularizer is not None else None
        return out, loss, penalty

    def _step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Clip the gradients and step; LBFGS re-evaluates the loss on this batch through a closure."""
        closure = None
        if isinstance(self.optimizer, torch.optim.LBFGS):
            def closure() -> torch.Tensor:
                self.optimizer.zero_grad(set_to_none=True)
                _, loss, penalty = self._forward(x, y)
                (loss if penalty is None else loss + penalty).backward()
                self._clip()
                return loss.detach()
        self._clip()
        self.optimizer.step(closure)

    def _clip(self) -> None:
        if self.clip_norm is None and self.clip_value is None:
            return
        params = [p for g in self.optimizer.param_groups for p in g["params"] if p.grad is not None]
        if self.clip_value is not None:
            nn.utils.clip_grad_value_(params, self.clip_value)
        if self.clip_norm is not None:
            nn.utils.clip_grad_norm_(params, self.clip_norm)

    def _end_epoch(self, metrics: dict[str, float]) -> None:
        st = self.state
        st.epoch += 1
        if self.scheduler is not None and not getattr(self.scheduler, "per_step", False):
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step(metrics[self.monitor])
            else:
                self.scheduler.step()
        value = metrics.get(self.monitor)
        if value is not None and math.isfinite(value):
            sign = 1.0 if self.mode == "max" else -1.0
            if st.best is None or sign * (value - st.best) > 0:
                st.best, st.best_epoch = value, st.epoch
        self._call("on_epoch_end", metrics)

    # ----------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: weights, optimizer, scheduler, RNGs, loader, callbacks."""
        loader_state = getattr(self.train_loader, "state_dict", None)
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "optimizer_class": type(self.optimizer).__name__,
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "train_state": asdict(self.state),
            "callbacks": [cb.state_dict() for cb in self.callbacks],
            "loader": loader_state() if loader_state else None,
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
        }

    def load_state_dict(self, ckpt: dict[str, Any], loader: Any = None) -> None:
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if self.scheduler is not None and ckpt.get("scheduler") is not None:
            self.scheduler.load_state_dict(ckpt["scheduler"])
        self.state = TrainState(**ckpt["train_state"])
        self.state.stop_reason = None
        for cb, st in zip(self.callbacks, ckpt.get("callbacks", [])):
            cb.load_state_dict(st)
        if loader is not None and ckpt.get("loader") is not None:
            loader.load_state_dict(ckpt["loader"], resume_batch=self.state.batch)
        rng = ckpt["rng"]
        torch.set_rng_state(rng["torch"])
        np.random.set_state(rng["numpy"])
        random.setstate(rng["python"])
        if rng.get("cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])

    # ----------------------------------------------------------------------------- helpers
    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    @contextlib.contextmanager
    def _graceful_sigint(self) -> Iterator[None]:
        """First Ctrl-C: finish the current batch, save, stop. A second one interrupts at once."""
        try:
            previous = signal.getsignal(signal.SIGINT)
        except ValueError:  # not the main thread
            previous = None

        forced = False

        def handler(signum: int, frame: Any) -> None:
            nonlocal forced
            if self._stop_requested:
                forced = True
                raise KeyboardInterrupt
            self._stop_requested = True

        installed = previous is not None and _set_signal(handler)
        try:
            yield
        except KeyboardInterrupt:
            if not forced:  # a forced stop may land mid-step: keep the last clean checkpoint instead
                self._call("on_interrupt")
            raise
        finally:
            if installed:
                signal.signal(signal.SIGINT, previous)
            self._stop_requested = False


def _set_signal(handler: Any) -> bool:
    try:
        signal.signal(signal.SIGINT, handler)
        return True
    except ValueError:
        return False


def _to(x: torch.Tensor, device: torch.device, channels_last: bool) -> torch.Tensor:
    x = x.to(device, non_blocking=True)
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.ndim == 4 else x


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _format_epoch(epoch: int, epochs: int, m: dict[str, float]) -> str:
    parts = [f"epoch {epoch}/{epochs}", f"loss {m['loss']:.4f}", f"acc {m['acc']:.2%}"]
    if "val_loss" in m:
        parts += [f"val_loss {m['val_loss']:.4f}", f"val_acc {m['val_acc']:.2%}"]
    parts += [f"lr {m['lr']:.3g}", f"{m['time']:.1f}s"]
    return "  ".join(parts)
