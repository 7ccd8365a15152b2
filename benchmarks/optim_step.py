"""Time per optimizer step of every nnlab optimizer against the same torch.optim / timm class constructed
directly, on a ResNet-18-sized parameter set (11.7M parameters, 62 tensors) with fixed gradients.

ratio = direct time / nnlab time (1.0: the wrapper adds nothing; the goal is >= 0.98). Rounds alternate
between the two so that load on a shared machine hits both alike; the median round is reported. The last
column times the class with ``foreach=True`` forced, to show why nnlab leaves that choice to torch on CPU.
    python benchmarks/optim_step.py [--device cpu|cuda] [--rounds 7] [--steps 3] [--threads N]
"""
from __future__ import annotations

import argparse
import inspect
import statistics
import time

import torch
import torchvision
from torch import nn

from nnlab.optim import OPTIMIZERS, build_optimizer


def make_params(device: torch.device) -> list[nn.Parameter]:
    torch.manual_seed(0)
    shapes = [p.shape for p in torchvision.models.resnet18().parameters()]  # random init, nothing downloaded
    params = [nn.Parameter(torch.randn(s, device=device) * 0.01) for s in shapes]
    for p in params:
        p.grad = torch.randn_like(p) * 0.01
    return params


def time_steps(opt: torch.optim.Optimizer, steps: int, device: torch.device) -> float:
    closure = (lambda: torch.tensor(1.0)) if isinstance(opt, torch.optim.LBFGS) else None
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        opt.step(closure)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps


def bench(name: str, device: torch.device, rounds: int, steps: int) -> tuple[float, float, float | None]:
    entry = OPTIMIZERS[name]
    ours_params, ref_params = make_params(device), make_params(device)
    holder = nn.Module()
    holder.params = nn.ParameterList(ours_params)
    ours = build_optimizer(holder, name)
    ref = entry.cls(ref_params, **entry.defaults, lr=entry.lr)  # what a user would write by hand
    forced = None
    if "foreach" in inspect.signature(entry.cls).parameters:
        forced = entry.cls(make_params(device), **entry.defaults, lr=entry.lr, foreach=True)
    for opt in filter(None, (ours, ref, forced)):  # warm-up: state allocation
        time_steps(opt, 1, device)
    t_ours, t_ref, t_forced = [], [], []
    for _ in range(rounds):
        t_ours.append(time_steps(ours, steps, device))
        t_ref.append(time_steps(ref, steps, device))
        if forced is not None:
            t_forced.append(time_steps(forced, steps, device))
    med = statistics.median
    return med(t_ours), med(t_ref), med(t_forced) if forced is not None else None


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--optims", default=",".join(OPTIMIZERS))
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    n = sum(p.numel() for p in make_params(device))
    print(f"{n / 1e6:.1f}M parameters on {device} ({torch.get_num_threads()} threads), torch {torch.__version__}; "
          f"median of {args.rounds} rounds x {args.steps} steps")
    print(f"{'optimizer':<10}{'class':<16}{'nnlab ms':>10}{'direct ms':>11}{'ratio':>7}{'foreach=True ms':>17}")
    ratios = []
    for name in args.optims.split(","):
        ours, ref, forced = bench(name, device, args.rounds, args.steps)
        ratios.append(ref / ours)
        f = f"{1000 * forced:17.1f}" if forced is not None else f"{'-':>17}"
        print(f"{name:<10}{OPTIMIZERS[name].cls.__name__:<16}{1000 * ours:10.1f}{1000 * ref:11.1f}"
              f"{ref / ours:7.3f}{f}")
    print(f"ratio: median {statistics.median(ratios):.3f}, min {min(ratios):.3f}")


if __name__ == "__main__":
    main()
