"""Callbacks: a few hook points around the loop, and the built-in ones.

Hooks: on_fit_start, on_epoch_start, on_batch_end, on_epoch_end, on_fit_end, on_interrupt, plus
state_dict / load_state_dict so that a resumed run continues each callback exactly.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from nnlab.engine import checkpoint
from nnlab.engine.runs import RunDir

if TYPE_CHECKING:
    from nnlab.engine.trainer import Trainer


class Callback:
    def on_fit_start(self, trainer: "Trainer") -> None: ...
    def on_epoch_start(self, trainer: "Trainer") -> None: ...
    def on_batch_end(self, trainer: "Trainer", loss: float) -> None: ...
    def on_epoch_end(self, trainer: "Trainer", metrics: dict[str, float]) -> None: ...
    def on_fit_end(self, trainer: "Trainer") -> None: ...
    def on_interrupt(self, trainer: "Trainer") -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class Checkpoint(Callback):
    """Atomic ``last.pt`` every ``interval`` epochs and at the end, ``best.pt`` when the monitored
    metric improves, and ``epoch-N.pt`` snapshots of which the newest ``keep_last`` are kept."""

    def __init__(self, run: RunDir, interval: int = 1, keep_last: int = 0) -> None:
        self.run = run
        self.interval = interval
        self.keep_last = keep_last

    def on_epoch_end(self, trainer: "Trainer", metrics: dict[str, float]) -> None:
        st = trainer.state
        if st.best_epoch == st.epoch:
            checkpoint.save({"model": trainer.eval_model.state_dict(), "epoch": st.epoch,
                             "metric": st.best, "monitor": trainer.monitor}, self.run.best)
        final = st.epoch >= trainer.epochs or st.stop_reason is not None
        if st.epoch % self.interval == 0 or final:
            checkpoint.save(trainer.state_dict(), self.run.last)
            if self.keep_last > 0:
                checkpoint.save({"model": trainer.eval_model.state_dict(), "epoch": st.epoch},
                                self.run.snapshot(st.epoch))
                for old in self.run.snapshots()[: -self.keep_last]:
                    old.unlink()

    def on_interrupt(self, trainer: "Trainer") -> None:
        checkpoint.save(trainer.state_dict(), self.run.last)


class EarlyStopping(Callback):
    """Stop when the monitored metric has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        self.patience = patience
        self.min_delta = min_delta
        self.best: float | None = None
        self.wait = 0

    def on_epoch_end(self, trainer: "Trainer", metrics: dict[str, float]) -> None:
        value = metrics.get(trainer.monitor)
        if value is None or not math.isfinite(value):
            return
        sign = 1.0 if trainer.mode == "max" else -1.0
        if self.best is None or sign * (value - self.best) > self.min_delta:
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            trainer.state.stop_reason = (
                f"early stopping: {trainer.monitor} did not improve by more than {self.min_delta} "
                f"for {self.patience} epochs (best {trainer.state.best:.4f} at epoch {trainer.state.best_epoch})")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.wait = state["best"], state["wait"]


class OnEpoch(Callback):
    """Calls ``fn(epoch, metrics)`` after each epoch; a returned string stops training with that reason
    (how a hyper-parameter search prunes a trial through the public API)."""

    def __init__(self, fn: Callable[[int, dict[str, float]], str | None]) -> None:
        self.fn = fn

    def on_epoch_end(self, trainer: "Trainer", metrics: dict[str, float]) -> None:
        reason = self.fn(trainer.state.epoch, metrics)
        if reason:
            trainer.state.stop_reason = reason


class CSVLogger(Callback):
    """One row of metrics per epoch in ``metrics.csv``; a resumed run drops rows past its checkpoint."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def on_fit_start(self, trainer: "Trainer") -> None:
        if not self.path.exists():
            return
        with self.path.open(newline="") as f:
            rows = [r for r in csv.DictReader(f) if int(r["epoch"]) <= trainer.state.epoch]
        fields = list(rows[0].keys()) if rows else []
        checkpoint.atomic_write_bytes(self.path, lambda f: f.write(_csv_text(fields, rows).encode()))

    def on_epoch_end(self, trainer: "Trainer", metrics: dict[str, float]) -> None:
        self.log(trainer.state.epoch, metrics)

    def log(self, epoch: int, metrics: dict[str, float]) -> None:
        row = {"epoch": epoch, **metrics}
        new = not self.path.exists() or self.path.stat().st_size == 0
        with self.path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)


def _csv_text(fields: list[str], rows: list[dict[str, Any]]) -> str:
    if not fields:
        return ""
    lines = [",".join(fields)] + [",".join(str(r[k]) for k in fields) for r in rows]
    return "\n".join(lines) + "\n"


class TensorBoard(Callback):
    """Scalars to TensorBoard event files (needs the ``tensorboard`` package)."""

    def __init__(self, folder: str | Path) -> None:
        from torch.utils.tensorboard import SummaryWriter  # imported only when asked for

        self.writer = SummaryWriter(str(folder))

    def on_epoch_end(self, trainer: "Trainer", metrics: dict[str, float]) -> None:
        for k, v in metrics.items():
            self.writer.add_scalar(k, v, trainer.state.epoch)
        self.writer.flush()

    def on_fit_end(self, trainer: "Trainer") -> None:
        self.writer.close()
