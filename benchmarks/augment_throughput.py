"""Batched augmentation (nnlab.data.augment) vs the training step it feeds, and vs per-sample torchvision
transforms in a DataLoader with 0, 1, 2 workers. Goal: augmentation < 10% of the step time at batch 128.
Every path gets the same warm-up (one untimed pass) and the median of the same number of repeats; the
DataLoader's workers persist across passes, so worker start-up is not timed.

    python benchmarks/augment_throughput.py [--batch 128] [--batches 4] [--repeats 5] [--big-repeats 2]

Sizes: 1x28x28 (preset "digits" feeding LeNet-5) and 3x224x224 (preset "strong": random resized crop,
flip, rotation, HSV jitter, noise, erasing, feeding torchvision's ResNet-18 with random weights).
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch
import torchvision.transforms.v2 as T
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision.models import resnet18

from nnlab.api import build_model
from nnlab.cli.main import _tune_malloc
from nnlab.config import AugmentConfig
from nnlab.data.augment import PRESETS, BatchAugment


def per_sample_pipeline(preset: str, size: int) -> T.Compose:
    """The same preset as torchvision v2 per-sample transforms (on uint8 CHW tensors)."""
    p = PRESETS[preset]
    ops: list = [T.ToDtype(torch.float32, scale=True)]
    if "resized_crop" in p:
        ops.append(T.RandomResizedCrop(size, scale=tuple(p["resized_crop"]), antialias=False))
    if p.get("hflip"):
        ops.append(T.RandomHorizontalFlip(p["hflip"]))
    if p.get("rotate") or p.get("scale") or p.get("translate"):
        ops.append(T.RandomAffine(p.get("rotate", 0.0), (p.get("translate", 0.0),) * 2, tuple(p.get("scale", (1, 1)))))
    if p.get("hue") or p.get("saturation") or p.get("value"):
        ops.append(T.ColorJitter(p.get("value", 0), 0, p.get("saturation", 0), p.get("hue", 0)))
    if p.get("noise"):
        ops.append(T.GaussianNoise(sigma=p["noise"]))
    if p.get("erase"):
        ops.append(T.RandomErasing(p["erase"]))
    return T.Compose(ops)


class Images(Dataset):
    def __init__(self, images: torch.Tensor, transform: T.Compose) -> None:
        self.images, self.transform = images, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.transform(self.images[i])


def median_rate(fn: Callable[[], None], images: int, repeats: int) -> float:
    """Images per second of ``fn`` (median over repeats, after one warm-up call): robust to a busy machine."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return images / statistics.median(times)


def batched_rate(images: torch.Tensor, preset: str, batch: int, batches: int, repeats: int) -> float:
    aug = BatchAugment(AugmentConfig(preset=preset), [0.5] * images.shape[1], [0.25] * images.shape[1])
    y = torch.zeros(batch, dtype=torch.long)

    def run() -> None:
        for b in range(batches):
            aug((images[b * batch: (b + 1) * batch].float() / 255 - 0.5) / 0.25, y)  # as the loader hands it

    return median_rate(run, batch * batches, repeats)


def dataloader_rate(images: torch.Tensor, preset: str, batch: int, batches: int, workers: int,
                    repeats: int) -> float:
    """The per-sample reference timed like the batched path: one warm-up pass, then the median of ``repeats``
    passes; its workers persist across passes, so their start-up is paid in the warm-up and not timed."""
    ds = Images(images[: batch * batches], per_sample_pipeline(preset, images.shape[-1]))
    loader = DataLoader(ds, batch_size=batch, num_workers=workers, persistent_workers=workers > 0)

    def run() -> None:
        for _ in loader:
            pass

    return median_rate(run, batch * batches, repeats)


def step_rate(model: nn.Module, shape: tuple[int, ...], batch: int, repeats: int) -> float:
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(batch, *shape), torch.randint(0, 10, (batch,))

    def step() -> None:
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return median_rate(step, batch, repeats)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--batches", type=int, default=4, help="batches per timed augmentation / DataLoader pass")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats (median) for small images")
    p.add_argument("--big-repeats", type=int, default=2, help="timed repeats for 3x224x224")
    p.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    args = p.parse_args()
    _tune_malloc()
    torch.manual_seed(0)
    print(f"torch threads {torch.get_num_threads()}, batch {args.batch}")
    cases = [("1x28x28", (1, 28, 28), "digits", build_model("lenet5", 10, 1, (28, 28))),
             ("3x224x224", (3, 224, 224), "strong", resnet18(num_classes=10))]
    for name, shape, preset, model in cases:
        repeats = args.repeats if shape[-1] < 100 else args.big_repeats
        images = torch.randint(0, 256, (args.batch * args.batches, *shape), dtype=torch.uint8)
        aug = batched_rate(images, preset, args.batch, args.batches, repeats)
        step = step_rate(model, shape, args.batch, repeats)
        print(f"\n{name} (preset {preset!r}, model {type(model).__name__})")
        print(f"  training step          {step:10.0f} img/s")
        print(f"  batched augmentation   {aug:10.0f} img/s  -> {100 * step / aug:.1f}% of the step time")
        for w in args.workers:
            rate = dataloader_rate(images, preset, args.batch, args.batches, w, repeats)
            print(f"  per-sample v2, {w} workers {rate:8.0f} img/s  -> {100 * step / rate:.1f}% of the step time"
                  f" (batched is {aug / rate:.1f}x faster)")


if __name__ == "__main__":
    main()
