"""Trainer vs a plain hand-written PyTorch loop: same LeNet-5, same in-memory data, batch, optimizer.

Both run in this process, interleaved, so machine noise hits both alike. Goal: trainer >= 0.95 of plain.
    python benchmarks/engine_overhead.py [--epochs 3] [--n 20000] [--channels-last]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
from torch import nn

from nnlab.api import build_model
from nnlab.cli.main import _tune_malloc
from nnlab.data import ImageDataset, Preprocess, TensorLoader
from nnlab.engine.callbacks import Checkpoint, CSVLogger
from nnlab.engine.losses import LOSSES
from nnlab.engine.trainer import Trainer


def plain_loop(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int, cl: bool) -> float:
    """The textbook loop: shuffle, slice, forward, loss, backward, step. Returns images/s."""
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    t0 = time.perf_counter()
    perm = torch.randperm(len(x))
    for i in range(0, len(x), batch):
        idx = perm[i: i + batch]
        xb = x[idx].contiguous(memory_format=torch.channels_last) if cl else x[idx]
        loss = nn.functional.cross_entropy(model(xb), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return len(x) / (time.perf_counter() - t0)


def trainer_epoch(model: nn.Module, ds: ImageDataset, batch: int, cl: bool, callbacks: bool) -> float:
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    with tempfile.TemporaryDirectory() as tmp:
        cbs = [Checkpoint(tmp), CSVLogger(f"{tmp}/m.csv")] if callbacks else []
        trainer = Trainer(model, opt, LOSSES.build("cross_entropy"), epochs=1, device=torch.device("cpu"),
                          channels_last=cl, callbacks=cbs, progress=False)
        loader = TensorLoader(ds, Preprocess.fit(ds.images), batch, shuffle=True)
        t0 = time.perf_counter()
        trainer.fit(loader)
        return len(ds) / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--channels-last", action="store_true")
    args = p.parse_args()
    _tune_malloc()
    torch.manual_seed(0)
    images = torch.randint(0, 256, (args.n, 1, 28, 28), dtype=torch.uint8)
    labels = torch.randint(0, 10, (args.n,))
    ds = ImageDataset(images, labels, [str(i) for i in range(10)])
    x = Preprocess.fit(images).normalize(images)
    cl = args.channels_last
    fmt = torch.channels_last if cl else torch.contiguous_format
    models = {k: build_model("lenet5", 10, 1, (28, 28)).to(memory_format=fmt) for k in ("plain", "bare", "full")}
    speeds: dict[str, list[float]] = {k: [] for k in models}
    for _ in range(args.epochs + 1):  # the first round warms up and is dropped
        speeds["plain"].append(plain_loop(models["plain"], x, labels, args.batch, cl))
        speeds["bare"].append(trainer_epoch(models["bare"], ds, args.batch, cl, callbacks=False))
        speeds["full"].append(trainer_epoch(models["full"], ds, args.batch, cl, callbacks=True))
    med = {k: statistics.median(v[1:]) for k, v in speeds.items()}
    print(f"LeNet-5, batch {args.batch}, {args.n} images/epoch, channels_last={cl}, "
          f"threads={torch.get_num_threads()}, median of {args.epochs} epochs")
    print(f"plain PyTorch loop:                 {med['plain']:8.0f} img/s")
    print(f"nnlab Trainer (no callbacks):       {med['bare']:8.0f} img/s   ratio {med['bare'] / med['plain']:.3f}")
    print(f"nnlab Trainer (checkpoint + csv):   {med['full']:8.0f} img/s   ratio {med['full'] / med['plain']:.3f}")


if __name__ == "__main__":
    main()
