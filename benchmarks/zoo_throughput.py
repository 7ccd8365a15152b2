"""Training images/s of each small-input zoo model on CPU at batch 128: eager vs channels_last vs torch.compile.

Each mode runs the same train step (forward, cross-entropy, backward, SGD step) on the same random batch, in
this process, after warm-up steps; the logits of each mode are checked against eager (numerically equivalent
within 1e-4 relative) before it is timed. Prints a markdown table.
    python benchmarks/zoo_throughput.py [--models lenet5,resnet20] [--steps 5] [--compile] [--threads 2]
"""
from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from nnlab.api import build_model
from nnlab.cli.main import _tune_malloc

SMALL = {"lenet5": (1, 28, 28), "resnet20": (1, 28, 28), "resnet56": (3, 32, 32), "alexnet": (3, 32, 32),
         "vgg11_bn": (3, 32, 32), "googlenet": (3, 32, 32), "resnet18": (3, 32, 32), "densenet121": (3, 32, 32)}


def train_rate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, warmup: int) -> float:
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    for i in range(warmup + steps):
        if i == warmup:
            t0 = time.perf_counter()
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return steps * len(x) / (time.perf_counter() - t0)


def variant(name: str, shape: tuple[int, int, int], mode: str) -> tuple[nn.Module, bool]:
    torch.manual_seed(0)
    model = build_model(name, 10, shape[0], shape[1:])
    cl = mode == "channels_last"
    if cl:
        model = model.to(memory_format=torch.channels_last)
    if mode == "compile":
        model = torch.compile(model)
    return model, cl


def max_rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--models", default=",".join(SMALL))
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--compile", action="store_true", help="also time torch.compile (slow to start on CPU)")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    _tune_malloc()
    if args.threads:
        torch.set_num_threads(args.threads)
    modes = ["eager", "channels_last"] + (["compile"] if args.compile else [])
    print(f"batch {args.batch}, {args.steps} timed steps after {args.warmup} warm-up, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}\n")
    print("| model | input | " + " | ".join(f"{m} img/s" for m in modes) + " | fastest (equivalent) |")
    print("|---|---|" + "---|" * len(modes) + "---|")
    for name in args.models.split(","):
        shape = SMALL.get(name, (3, 32, 32))
        x, y = torch.randn(args.batch, *shape), torch.randint(0, 10, (args.batch,))
        ref_model, _ = variant(name, shape, "eager")
        with torch.no_grad():
            ref = ref_model.eval()(x)
        rates: dict[str, float] = {}
        for mode in modes:
            model, cl = variant(name, shape, mode)
            xm = x.contiguous(memory_format=torch.channels_last) if cl else x
            with torch.no_grad():
                diff = max_rel_diff(model.eval()(xm), ref)
            if diff > 1e-4:
                print(f"  {name} {mode}: logits differ from eager by {diff:.1e} (relative); not timed")
                continue
            rates[mode] = train_rate(model, xm, y, args.steps, args.warmup)
        best = max(rates, key=rates.get)
        cells = [f"{rates[m]:.0f}" if m in rates else "n/a" for m in modes]
        print(f"| {name} | {'x'.join(map(str, shape))} | " + " | ".join(cells) + f" | {best} |", flush=True)


if __name__ == "__main__":
    main()
