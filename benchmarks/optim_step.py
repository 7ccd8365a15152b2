"""Time per optimizer step of every nnlab optimizer against the same torch.optim / timm class constructed
directly, on a ResNet-18-sized parameter set (11.7M parameters, 62 tensors) with fixed gradients.

ratio = direct time / nnlab time (1.0: the wrapper adds nothing; the goal is >= 0.98). Single steps alternate
between the two (the order swapped every round) so that load on a shared machine hits both alike; the fastest
step of each is compared (the least disturbed one; medians are printed too). The last column times the class
with ``foreach=True`` forced, to show why nnlab leaves that choice to torch on CPU.
    python benchmarks/optim_step.py [--device cpu|cuda] [--rounds 10] [--threads N] [--optims adam,sgd]
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
    """Seconds per step."""
    closure = (lambda: torch.tensor(1.0)) if isinstance(opt, torch.optim.LBFGS) else None
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        opt.step(closure)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps


def bench(name: str, device: torch.device, rounds: int) -> tuple[list[float], list[float], list[float]]:
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
    times: dict[int, list[float]] = {0: [], 1: [], 2: []}
    pairs = [(0, ours), (1, ref)]
    for r in range(rounds):
        for key, opt in pairs if r % 2 == 0 else pairs[::-1]:
            times[key].append(time_steps(opt, 1, device))
        if forced is not None:
            times[2].append(time_steps(forced, 1, device))
    return times[0], times[1], times[2]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--optims", default=",".join(OPTIMIZERS))
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    n = sum(p.numel() for p in make_params(device))
    print(f"{n / 1e6:.1f}M parameters on {device} ({torch.get_num_threads()} threads), torch {torch.__version__}; "
          f"{args.rounds} single steps each; ms: fastest (median)")
    print(f"{'optimizer':<10}{'class':<10}{'nnlab':>16}{'direct':>16}{'ratio':>7}{'foreach=True':>16}")
    ratios = []
    for name in args.optims.split(","):
        ours, ref, forced = bench(name, device, args.rounds)
        ratios.append(min(ref) / min(ours))
        print(f"{name:<10}{OPTIMIZERS[name].cls.__name__:<10}{_ms(ours):>16}{_ms(ref):>16}{ratios[-1]:7.3f}"
              f"{_ms(forced) if forced else '-':>16}")
    print(f"ratio (fastest direct / fastest nnlab): median {statistics.median(ratios):.3f}, min {min(ratios):.3f}")


def _ms(times: list[float]) -> str:
    return f"{1000 * min(times):.1f} ({1000 * statistics.median(times):.1f})"


if __name__ == "__main__":
    main()
