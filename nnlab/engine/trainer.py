"""The training loop: forward, loss, backward, step, visible top to bottom (nanoGPT style).

The loop is task-agnostic: a task (``nnlab.tasks``) turns a batch into ``(loss, logs)`` and supplies the
evaluator that validation runs; the trainer moves batches to the device, steps the optimizers, and keeps
the state that makes a stopped run resumable exactly. Batch GD, SGD and mini-batch GD differ only in the
loader's batch size (notes: 경사하강법 / SGD / MSGD).
"""
from __future__ import annotations

import contextlib
import math
import signal
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol

import torch
from torch import nn

from nnlab.engine import rng
from nnlab.engine.batch import LogSums, batch_len, to_device
from nnlab.engine.callbacks import Callback
from nnlab.engine.distributed import SINGLE, Dist, average_gradients
from nnlab.engine.ema import ModelEma
from nnlab.engine.progress import Progress
from nnlab.errors import TrainingStopped

Logs = dict[str, torch.Tensor]
StepFn = Callable[[str, torch.Tensor], None]


class Loader(Protocol):
    """What the trainer needs of a data loader: batches of any structure the task understands (tensors,
    dicts, lists of dicts), a length, and optionally ``state_dict`` / ``load_state_dict(state, resume_batch)``
    and ``epoch_logs() -> dict[str, float]`` (figures of its own added to the epoch's metrics: RL's returns)."""

    def __iter__(self) -> Iterator[Any]: ...
    def __len__(self) -> int: ...


class Evaluator(Protocol):
    """A metric accumulator: ``update`` per batch (no host sync needed), ``compute`` once at the end."""

    def update(self, model: nn.Module, batch: Any) -> None: ...
    def compute(self) -> dict[str, float]: ...


class StepTask(Protocol):
    """What the trainer needs of a task (every ``nnlab.tasks.Task`` is one).

    ``training_step(model, batch) -> (loss, logs)``: the trainer does backward, accumulation, clipping and
    the step. A task with ``manual_optimization`` instead gets ``manual_step(model, batch, step)`` and calls
    ``step(optimizer_name, loss)`` itself, once per optimizer it trains (a GAN: discriminator, then generator).
    ``logs`` are detached batch means the trainer averages over the epoch, weighted by batch size."""

    manual_optimization: bool

    def training_step(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, Logs]: ...
    def manual_step(self, model: nn.Module, batch: Any, step: StepFn) -> tuple[torch.Tensor, Logs]: ...
    def evaluator(self) -> Evaluator: ...


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


def evaluate(model: nn.Module, loader: Iterable, evaluator: Evaluator, device: torch.device,
             precision: str = "fp32", channels_last: bool = False) -> dict[str, float]:
    """The one evaluation loop (fit's validation and test, ``nnlab eval``, cv, ensembles): the task's
    evaluator over a loader, in inference mode, with the run's precision and memory format."""
    model.eval()
    with torch.inference_mode(), _autocast(device, precision):
        for batch in loader:
            evaluator.update(model, to_device(batch, device, channels_last))
    return evaluator.compute()


class Trainer:
    """Runs epochs of training and validation and calls the callbacks at a few hook points."""

    def __init__(self, model: nn.Module, task: StepTask,
                 optimizers: torch.optim.Optimizer | Mapping[str, torch.optim.Optimizer], *,
                 epochs: int, device: torch.device, accumulate: int = 1, precision: str = "fp32",
                 channels_last: bool = False, schedulers: Mapping[str, Any] | None = None,
                 callbacks: Iterable[Callback] = (), monitor: str = "val_loss", mode: str = "min",
                 progress: bool = True, clip_norm: float | None = None, clip_value: float | None = None,
                 dist: Dist = SINGLE, net: nn.Module | None = None, ema: ModelEma | None = None) -> None:
        """``optimizers``: one optimizer, or several by name for a task that steps them itself;
        ``schedulers``: learning-rate schedulers by the name of their optimizer (``per_step`` attribute:
        stepped after every optimizer step instead of every epoch). ``dist``: this process's place in a
        distributed run; ``net``: the module the task trains through (DDP over ``model``), default ``model``;
        ``ema``: a moving average of the weights, updated after every step, validated and saved as the best."""
        self.model, self.task, self.ema = model, task, ema
        self.dist, self.net = dist, model if net is None else net
        self.optimizers = dict(optimizers) if isinstance(optimizers, Mapping) else {"main": optimizers}
        self.schedulers = {k: v for k, v in (schedulers or {}).items() if v is not None}
        self.epochs, self.device, self.accumulate = epochs, device, accumulate
        self.precision, self.channels_last = precision, channels_last
        self.clip_norm, self.clip_value = clip_norm, clip_value
        self.callbacks = list(callbacks)
        self.monitor, self.mode = monitor, mode
        self.progress = progress
        self.state = TrainState()
        self.train_loader: Any = None
        self._stop_requested = False

    @property
    def eval_model(self) -> nn.Module:
        """The weights validation, the test and ``best.pt`` use: the EMA's when there is one."""
        return self.ema.module if self.ema is not None else self.model

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
                    val = self.dist.on_main(lambda: evaluate(self.eval_model, val_loader, self.task.evaluator(),
                                                             self.device, self.precision, self.channels_last))
                    metrics.update({f"val_{k}": v for k, v in val.items()})
                metrics.update(self._learning_rates())
                metrics["time"] = time.perf_counter() - t0
                self._end_epoch(metrics)
                bar.write(format_epoch(self.state.epoch, self.epochs, metrics))
        self._call("on_fit_end")
        return self.state

    def train_one_epoch(self, loader: Loader, bar: Progress | None = None) -> dict[str, float]:
        self.net.train()
        sums = LogSums(self.state.partial, self.device)  # summed on device: no host sync per log
        for i, batch in enumerate(loader, start=self.state.batch):
            batch = to_device(batch, self.device, self.channels_last)
            loss, logs = self._train_step(batch, last=(i + 1) % self.accumulate == 0 or i + 1 == len(loader))
            value = loss.item()
            if not math.isfinite(value):
                raise TrainingStopped(f"loss became {value} at epoch {self.state.epoch + 1}, batch {i + 1}; "
                                      "training stopped. Lower the learning rate (optim.lr) or check the data.")
            sums.add(value, logs, batch_len(batch))
            self.state.batch = i + 1
            self._call("on_batch_end", value)
            if bar is not None:
                bar.update(value)
            if self.dist.any(self._stop_requested):  # every rank stops after the same batch
                self._reduce(sums)
                self.state.partial = sums.state()
                raise KeyboardInterrupt
        self.state.batch, self.state.partial = 0, {}
        self._reduce(sums)
        extra = getattr(loader, "epoch_logs", None)  # a loop's own epoch figures (RL: episode returns)
        return {**sums.means(), **extra()} if extra is not None else sums.means()

    def _train_step(self, batch: Any, last: bool) -> tuple[torch.Tensor, Logs]:
        """One batch: the task's step, then backward and (every ``accumulate`` batches) the optimizer step."""
        if self.task.manual_optimization:
            with _autocast(self.device, self.precision):
                loss, logs = self.task.manual_step(self.net, batch, self._step_one)
            self.state.step += 1
            self._update_ema()
            return loss, logs
        with _autocast(self.device, self.precision):
            loss, logs = self.task.training_step(self.net, batch)
        (loss / self.accumulate).backward()
        if last:
            for opt in self.optimizers.values():
                self._average(opt)
                self._clip(opt)
                opt.step(self._closure(opt, batch))
                opt.zero_grad(set_to_none=True)
            self.state.step += 1
            self._update_ema()
            self._step_schedulers(per_step=True)
        return loss, logs

    def _update_ema(self) -> None:
        if self.ema is not None:
            self.ema.update(self.model)

    def _step_one(self, name: str, loss: torch.Tensor) -> None:
        """Backward, clip and step one named optimizer (for tasks that own their optimizer steps)."""
        opt = self.optimizers[name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        self._average(opt)
        self._clip(opt)
        opt.step()
        sched = self.schedulers.get(name)
        if sched is not None and getattr(sched, "per_step", False):
            sched.step()

    def _closure(self, opt: torch.optim.Optimizer, batch: Any) -> Callable[[], torch.Tensor] | None:
        """LBFGS re-evaluates the loss on this batch through a closure; other optimizers take none."""
        if not isinstance(opt, torch.optim.LBFGS):
            return None

        def closure() -> torch.Tensor:
            opt.zero_grad(set_to_none=True)
            with _autocast(self.device, self.precision):
                loss, _ = self.task.training_step(self.net, batch)
            loss.backward()
            self._average(opt)
            self._clip(opt)
            return loss.detach()

        return closure

    def _average(self, opt: torch.optim.Optimizer) -> None:
        """Gradients averaged over the ranks, where DDP does not do it during backward."""
        if self.dist.enabled and self.net is self.model:
            average_gradients((p for g in opt.param_groups for p in g["params"]), self.dist)

    def _reduce(self, sums: LogSums) -> None:
        if self.dist.enabled:
            sums.reduce(self.dist.sum)

    def _clip(self, opt: torch.optim.Optimizer) -> None:
        if self.clip_norm is None and self.clip_value is None:
            return
        params = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
        if self.clip_value is not None:
            nn.utils.clip_grad_value_(params, self.clip_value)
        if self.clip_norm is not None:
            nn.utils.clip_grad_norm_(params, self.clip_norm)

    def _step_schedulers(self, per_step: bool, metrics: dict[str, float] | None = None) -> None:
        for sched in self.schedulers.values():
            if bool(getattr(sched, "per_step", False)) != per_step:
                continue
            if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                sched.step((metrics or {})[self.monitor])
            else:
                sched.step()

    def _learning_rates(self) -> dict[str, float]:
        """``lr`` of the first optimizer, plus ``lr_<name>`` of each further one."""
        names = list(self.optimizers)
        out = {"lr": self.optimizers[names[0]].param_groups[0]["lr"]}
        out.update({f"lr_{n}": self.optimizers[n].param_groups[0]["lr"] for n in names[1:]})
        return out

    def _end_epoch(self, metrics: dict[str, float]) -> None:
        st = self.state
        st.epoch += 1
        self._step_schedulers(per_step=False, metrics=metrics)
        value = metrics.get(self.monitor)
        if value is not None and math.isfinite(value):
            sign = 1.0 if self.mode == "max" else -1.0
            if st.best is None or sign * (value - st.best) > 0:
                st.best, st.best_epoch = value, st.epoch
        self._call("on_epoch_end", metrics)
        st.stop_reason = self.dist.broadcast(st.stop_reason)  # rank 0's callbacks decide for all

    # ----------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: weights, optimizers, schedulers, RNGs, loader, callbacks."""
        loader_state = getattr(self.train_loader, "state_dict", None)
        return {
            "model": self.model.state_dict(),
            "optimizers": {k: opt.state_dict() for k, opt in self.optimizers.items()},
            "optimizer_classes": {k: type(opt).__name__ for k, opt in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "train_state": asdict(self.state),
            "callbacks": [cb.state_dict() for cb in self.callbacks],
            "loader": loader_state() if loader_state else None,
            "rng": rng.capture(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
        }

    def load_state_dict(self, ckpt: dict[str, Any], loader: Any = None) -> None:
        self.model.load_state_dict(ckpt["model"])
        for name, state in saved_optimizers(ckpt).items():
            self.optimizers[name].load_state_dict(state)
        saved_schedulers = ckpt.get("schedulers", {"main": ckpt.get("scheduler")})  # older runs: one of each
        for name, sched in self.schedulers.items():
            if saved_schedulers.get(name) is not None:
                sched.load_state_dict(saved_schedulers[name])
        self.state = TrainState(**ckpt["train_state"])
        self.state.stop_reason = None
        if not self.dist.main:  # the saved partial sums are the group's totals: counted once, on rank 0
            self.state.partial = {}
        for cb, st in zip(self.callbacks, ckpt.get("callbacks", [])):
            cb.load_state_dict(st)
        if loader is not None and ckpt.get("loader") is not None:
            loader.load_state_dict(ckpt["loader"], resume_batch=self.state.batch)
        if self.ema is not None and ckpt.get("ema") is not None:
            self.ema.load_state_dict(ckpt["ema"])
        rng.restore(ckpt["rng"])

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
            if self._stop_requested and not self.dist.enabled:  # torchrun repeats the signal: not a second Ctrl-C
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


def saved_optimizers(ckpt: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The optimizer states of a checkpoint by name (runs from before named optimizers saved one)."""
    return ckpt["optimizers"] if "optimizers" in ckpt else {"main": ckpt["optimizer"]}


def saved_optimizer_classes(ckpt: dict[str, Any]) -> dict[str, str]:
    return ckpt["optimizer_classes"] if "optimizer_classes" in ckpt else {"main": ckpt.get("optimizer_class", "")}


def _set_signal(handler: Any) -> bool:
    try:
        signal.signal(signal.SIGINT, handler)
        return True
    except ValueError:
        return False


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def format_epoch(epoch: int, epochs: int, m: dict[str, float]) -> str:
    """``epoch 3/10  loss 0.1234  acc 95.00%  val_loss ...  lr 0.01  1.2s``: accuracies (``*acc``, ``top*``) as
    percentages."""
    parts = [f"epoch {epoch}/{epochs}"]
    for k, v in m.items():
        if k == "time":
            continue
        fraction = k.endswith("acc") or k.removeprefix("val_").startswith("top")  # accuracies, top-k
        parts.append(f"{k} {v:.2%}" if fraction else f"{k} {v:.3g}" if k.startswith("lr") else f"{k} {v:.4f}")
    parts.append(f"{m['time']:.1f}s")
    return "  ".join(parts)
