"""PixelCNN's point (notes): training is parallel over pixels (one forward pass evaluates all H x W
conditionals), sampling is sequential (one forward pass per pixel). Measures, in one process on the same model,
images/s for a training step (forward + backward + Adam), for likelihood evaluation, and for sampling (each
pass on the whole image, and on the window that can reach the pixel: the same draws).

PixelRNN (``--model pixelrnn``, ``--blocks`` Row LSTM layers) is the notes' contrast: its training is sequential
over rows, PixelCNN's is not.
    python benchmarks/pixelcnn_sampling.py [--model pixelcnn|pixelrnn] [--size 28] [--channels 32] [--blocks 4]
        [--batch 64] [--n 16]
"""
from __future__ import annotations

import argparse
import time

import torch

from nnlab.models.generative import GENERATIVE
from nnlab.tasks.generate.autoregressive import pixelcnn_nll


def _rate(fn, images: int, repeats: int = 3) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return images / best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="pixelcnn", choices=["pixelcnn", "pixelrnn"])
    p.add_argument("--size", type=int, default=28)
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--blocks", type=int, default=4)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--n", type=int, default=16, help="images sampled at once")
    a = p.parse_args()
    torch.manual_seed(0)
    depth = {"blocks": a.blocks} if a.model == "pixelcnn" else {"layers": a.blocks}
    model = GENERATIVE.build(a.model, in_chans=1, input_size=(a.size, a.size), channels=a.channels, **depth)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x = (torch.rand(a.batch, 1, a.size, a.size) > 0.5).float()

    def train_step() -> None:
        loss = pixelcnn_nll(model, x).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    def evaluate() -> None:
        with torch.inference_mode():
            pixelcnn_nll(model, x)

    train = _rate(train_step, a.batch)
    ev = _rate(evaluate, a.batch)
    sample_full = _rate(lambda: model.sample(a.n, crop=False), a.n, repeats=1)
    sample = _rate(lambda: model.sample(a.n), a.n, repeats=1)
    params = sum(q.numel() for q in model.parameters())
    print(f"{a.model} {a.size}x{a.size}, {a.channels} channels, {a.blocks} blocks / layers, {params:,} parameters, "
          f"{torch.get_num_threads()} thread(s)")
    print(f"train step   {train:9.1f} images/s (batch {a.batch})")
    print(f"evaluate     {ev:9.1f} images/s (all {a.size * a.size} conditionals in one pass)")
    print(f"sample full  {sample_full:9.2f} images/s ({a.n} at once, {a.size * a.size} passes over the image)")
    print(f"sample       {sample:9.2f} images/s (each pass on the window that reaches the pixel: "
          f"{sample / sample_full:.1f}x)  -> training is {train / sample:.0f}x faster per image")


if __name__ == "__main__":
    main()
