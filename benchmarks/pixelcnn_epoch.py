"""Time per epoch of a PixelCNN config on this CPU, fp32 vs bf16 autocast, with and without channels_last: the
config's own model and batch size, timed training steps (forward, loss, backward, Adam) and one validation
batch, scaled to the epoch (MNIST: 60,000 images less ``data.val_fraction``). Prints CPU seconds of this process
(robust on a shared machine: the work, not the neighbours) and wall seconds (what a dedicated machine shows).
Modes alternate step by step so that load hits all alike; the least disturbed (fastest) step is kept.
    python benchmarks/pixelcnn_epoch.py configs/generate/mnist_pixelcnn_full.yaml [--steps 6] [--threads 2]
"""
from __future__ import annotations

import argparse
import time

import torch

from nnlab import config as nnconfig
from nnlab.models.generative import GENERATIVE
from nnlab.tasks.generate.autoregressive import pixelcnn_nll

MODES = [("fp32", False), ("fp32", True), ("bf16", False), ("bf16", True)]
MNIST_TRAIN = 60_000


class Timed:
    """One mode: its own model copy and optimizer; the fastest CPU / wall seconds of a training step."""

    def __init__(self, cfg: nnconfig.Config, precision: str, channels_last: bool, batch: int) -> None:
        torch.manual_seed(0)
        self.model = GENERATIVE.build(cfg.model.name, in_chans=1, input_size=(28, 28), **cfg.model.args)
        self.x = (torch.rand(batch, 1, 28, 28) > 0.5).float()  # (B, 1, 28, 28) binary pixels
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
            self.x = self.x.contiguous(memory_format=torch.channels_last)
        self.opt = torch.optim.Adam(self.model.parameters(), cfg.optim.lr)
        self.bf16 = precision == "bf16"
        self.cpu, self.wall = float("inf"), float("inf")

    def step(self, train: bool = True) -> None:
        c, w = time.process_time(), time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16), torch.set_grad_enabled(train):
            loss = pixelcnn_nll(self.model, self.x).mean()
        if train:
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
        self.cpu, self.wall = min(self.cpu, time.process_time() - c), min(self.wall, time.perf_counter() - w)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config")
    p.add_argument("--steps", type=int, default=6, help="timed training steps per mode")
    p.add_argument("--threads", type=int, default=None)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    cfg = nnconfig.load(a.config)
    batch = cfg.train.batch_size
    train_images = round(MNIST_TRAIN * (1 - cfg.data.val_fraction))
    steps, val_images = -(-train_images // batch), MNIST_TRAIN - train_images
    timed = {m: Timed(cfg, *m, batch) for m in MODES}
    for t in timed.values():
        t.step()  # warm-up: allocations, oneDNN primitives
        t.cpu = t.wall = float("inf")
    for _ in range(a.steps):
        for t in timed.values():
            t.step()
    print(f"{a.config}: {cfg.model.name} {cfg.model.args}, batch {batch}, {steps} steps + {val_images} validation "
          f"images per epoch, {cfg.train.epochs} epochs, {torch.get_num_threads()} thread(s)")
    for (precision, cl), t in timed.items():
        train_cpu, train_wall = t.cpu, t.wall
        t.cpu = t.wall = float("inf")
        t.step(train=False)  # one forward pass without gradients: the validation cost per batch
        epoch_cpu = steps * train_cpu + val_images / batch * t.cpu
        epoch_wall = steps * train_wall + val_images / batch * t.wall
        print(f"{precision} channels_last={cl!s:5}  step {1000 * train_cpu:6.0f} ms CPU {1000 * train_wall:6.0f} ms "
              f"wall  epoch {epoch_cpu / 60:6.2f} min CPU {epoch_wall / 60:6.2f} min wall  "
              f"{cfg.train.epochs} epochs {cfg.train.epochs * epoch_wall / 60:6.1f} min wall")


if __name__ == "__main__":
    main()
