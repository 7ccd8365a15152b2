"""The sliding-window loop vs the same classifier rewritten fully convolutionally (one forward pass per scale):
windows/s of each and the largest score difference. Same LeNet-5 (random weights: speed and equality do not
depend on training), same images, interleaved repeats so machine noise hits both alike.
    python benchmarks/sliding_vs_conv.py [--size 256] [--patch 32] [--stride 4] [--images 4] [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from nnlab.models import MODELS
from nnlab.models.detection.classic.convolutional import Convolutional
from nnlab.models.detection.classic.sliding_window import SlidingWindow


def timed(det: SlidingWindow, images: torch.Tensor) -> tuple[float, list]:
    t0 = time.perf_counter()
    maps = [det.heatmaps(im) for im in images]
    return time.perf_counter() - t0, maps


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--patch", type=int, default=32)
    p.add_argument("--stride", type=int, default=4)
    p.add_argument("--images", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--scales", type=float, nargs="+", default=[1.0, 1.5, 2.0])
    args = p.parse_args()
    torch.manual_seed(0)
    net = MODELS.build("lenet5", num_classes=11, in_chans=1, input_size=(args.patch, args.patch)).eval()
    patch = (args.patch, args.patch)
    sliding = SlidingWindow(net, patch, 10, scales=args.scales, stride=args.stride, batch=1024)
    conv = Convolutional(net, patch, 10, scales=args.scales, stride=args.stride)
    images = torch.rand(args.images, 1, args.size, args.size)
    windows = args.images * sliding.windows(args.size, args.size)
    t_slide, t_conv = [], []
    for _ in range(args.repeats):
        ts, a = timed(sliding, images)
        tc, b = timed(conv, images)
        t_slide.append(ts)
        t_conv.append(tc)
    diff = max(float((x - y).abs().max()) for ia, ib in zip(a, b) for (_, x), (_, y) in zip(ia, ib))
    ws, wc = windows / statistics.median(t_slide), windows / statistics.median(t_conv)
    print(f"{args.images} images {args.size}x{args.size}, patch {args.patch}, stride {args.stride}, scales "
          f"{args.scales}: {windows} windows, {torch.get_num_threads()} threads")
    print(f"sliding loop : {ws:12,.0f} windows/s")
    print(f"one pass     : {wc:12,.0f} windows/s   ({wc / ws:.1f}x)")
    print(f"max |score difference| = {diff:.2e}")


if __name__ == "__main__":
    main()
