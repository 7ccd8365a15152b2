"""Trainer vs a plain hand-written PyTorch loop, and PyTorch Lightning's Trainer as a peer: same LeNet-5, same
in-memory data, batch and optimizer (SGD with momentum), one epoch at a time.

All run in this process, interleaved, so machine noise hits them alike. Goal: nnlab / plain >= 0.95.
Lightning comes from the optional ``bench`` extra (``pip install -e '.[bench]'``); without it its row is skipped.
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
from nnlab.engine.runs import RunDir
from nnlab.engine.trainer import Trainer
from nnlab.models.losses import LOSSES
from nnlab.tasks.classify import Classify


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
        cbs = [Checkpoint(RunDir(tmp)), CSVLogger(f"{tmp}/m.csv")] if callbacks else []
        task = Classify(loss=LOSSES.build("cross_entropy"), num_classes=len(ds.classes))
        trainer = Trainer(model, task, opt, epochs=1, device=torch.device("cpu"), channels_last=cl, callbacks=cbs,
                          progress=False)
        loader = TensorLoader(ds, Preprocess.fit(ds.images), batch, shuffle=True)
        t0 = time.perf_counter()
        trainer.fit(loader)
        return len(ds) / (time.perf_counter() - t0)


def lightning_epoch(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int, cl: bool) -> float | None:
    """One epoch of Lightning's Trainer (CPU, no logging, checkpointing or progress bar) on the same
    tensors through a plain DataLoader over a TensorDataset; None when Lightning is not installed."""
    try:
        import lightning as L
    except ImportError:
        return None

    class Module(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = model

        def training_step(self, b: tuple[torch.Tensor, torch.Tensor], i: int) -> torch.Tensor:
            xb, yb = b
            xb = xb.contiguous(memory_format=torch.channels_last) if cl else xb
            return nn.functional.cross_entropy(self.net(xb), yb)

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.01, momentum=0.9)

    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch, shuffle=True)
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    t0 = time.perf_counter()
    trainer.fit(Module(), loader)
    return len(x) / (time.perf_counter() - t0)


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
    names = ("plain", "bare", "full", "lightning")
    models = {k: build_model("lenet5", 10, 1, (28, 28)).to(memory_format=fmt) for k in names}
    speeds: dict[str, list[float | None]] = {k: [] for k in models}
    for _ in range(args.epochs + 1):  # the first round warms up and is dropped
        speeds["plain"].append(plain_loop(models["plain"], x, labels, args.batch, cl))
        speeds["bare"].append(trainer_epoch(models["bare"], ds, args.batch, cl, callbacks=False))
        speeds["full"].append(trainer_epoch(models["full"], ds, args.batch, cl, callbacks=True))
        speeds["lightning"].append(lightning_epoch(models["lightning"], x, labels, args.batch, cl))
    med = {k: statistics.median(v[1:]) for k, v in speeds.items() if None not in v}
    print(f"LeNet-5, batch {args.batch}, {args.n} images/epoch, channels_last={cl}, "
          f"threads={torch.get_num_threads()}, median of {args.epochs} epochs")
    print(f"plain PyTorch loop:                 {med['plain']:8.0f} img/s")
    print(f"nnlab Trainer (no callbacks):       {med['bare']:8.0f} img/s   ratio {med['bare'] / med['plain']:.3f}")
    print(f"nnlab Trainer (checkpoint + csv):   {med['full']:8.0f} img/s   ratio {med['full'] / med['plain']:.3f}")
    if "lightning" in med:
        print(f"Lightning Trainer (peer):           {med['lightning']:8.0f} img/s   ratio "
              f"{med['lightning'] / med['plain']:.3f}")
    else:
        print("Lightning Trainer (peer):           skipped: pip install -e '.[bench]' (lightning) to compare")


if __name__ == "__main__":
    main()
