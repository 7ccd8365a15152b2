"""Batches of any structure: move them to the device, count their samples, average their logs."""
from __future__ import annotations

from typing import Any, Callable

import torch


def to_device(batch: Any, device: torch.device, channels_last: bool = False) -> Any:
    """The batch with every tensor on ``device`` (nested tuples, lists and dicts kept as they are);
    4-D float tensors (images) in channels_last memory format when asked."""
    if isinstance(batch, torch.Tensor):
        out = batch.to(device, non_blocking=True)
        if channels_last and out.ndim == 4 and out.is_floating_point():
            out = out.contiguous(memory_format=torch.channels_last)
        return out
    if isinstance(batch, dict):
        return {k: to_device(v, device, channels_last) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        moved = [to_device(v, device, channels_last) for v in batch]
        return type(batch)(moved) if isinstance(batch, list) else tuple(moved)
    return batch


def batch_len(batch: Any) -> int:
    """Samples in a batch: the length of its first tensor (or list), looking inside tuples and dicts."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.ndim else 1
    if isinstance(batch, dict):
        return batch_len(next(iter(batch.values())))
    if isinstance(batch, tuple):
        return batch_len(batch[0])
    if isinstance(batch, list):
        return len(batch)
    raise TypeError(f"cannot count the samples of a {type(batch).__name__} batch")


class LogSums:
    """Sample-weighted sums of per-batch means over an epoch. The loss arrives as a Python float (the
    trainer reads it anyway, for the non-finite check); other logs stay on the device until ``means``.
    A ``loss`` log, when the task gives one, replaces the stepped loss in the epoch's figures (e.g. the data
    loss without a regularizer's penalty, which is logged on its own)."""

    def __init__(self, partial: dict[str, float], device: torch.device) -> None:
        self.count = partial.get("count", 0.0)
        self.loss = partial.get("loss", 0.0)
        self.device = device
        self.sums: dict[str, torch.Tensor] = {
            k: torch.tensor(v, dtype=torch.float64, device=device) for k, v in partial.items()
            if k not in ("count", "loss")}

    def add(self, loss: float, logs: dict[str, torch.Tensor], n: int) -> None:
        self.count += n
        self.loss += (float(logs["loss"]) if "loss" in logs else loss) * n
        for k, v in logs.items():
            if k == "loss":
                continue
            if k not in self.sums:
                self.sums[k] = torch.zeros((), dtype=torch.float64, device=self.device)
            self.sums[k].add_(v.detach(), alpha=n)  # one in-place op per log (float64 sum, no host sync)

    def reduce(self, total: Callable[[list[float]], list[float]]) -> None:
        """Replace the sums by their totals over the processes of a distributed run (``total``: element-wise
        sums across ranks; every rank logs the same keys)."""
        keys = sorted(self.sums)
        out = total([self.count, self.loss, *(float(self.sums[k]) for k in keys)])
        self.count, self.loss = out[0], out[1]
        for k, v in zip(keys, out[2:]):
            self.sums[k].fill_(v)

    def state(self) -> dict[str, float]:
        """Plain floats, saved in a checkpoint to finish an interrupted epoch exactly."""
        return {"count": self.count, "loss": self.loss, **{k: float(v) for k, v in self.sums.items()}}

    def means(self) -> dict[str, float]:
        n = max(self.count, 1)
        return {"loss": self.loss / n, **{k: float(v) / n for k, v in self.sums.items()}}
