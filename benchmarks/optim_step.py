"""Optimizer step time: (1) per optimizer, torch's three implementations — the per-tensor for-loop, the
multi-tensor ``foreach`` path and the ``fused`` kernel — and which one nnlab's ``build_optimizer`` ends up
with; (2) nnlab's ``build_optimizer`` (its parameter groups) against timm's ``create_optimizer_v2`` on the
same model. Both can fail: (1) when nnlab's choice is slower than another implementation, (2) when nnlab's
groups differ from timm's or its step is slower.

ResNet-18 (torchvision, random init, 11.7M parameters in 62 tensors) with fixed random gradients. Single steps
alternate between the compared optimizers (the order rotated every round) so that load on a shared machine hits
all alike; the fastest step of each is compared (the least disturbed one), medians are printed too. Every
implementation is first checked to give the same parameters as the for-loop after two steps.
    python benchmarks/optim_step.py [--device cpu|cuda] [--rounds 10] [--threads N] [--optims adam,sgd]
"""
from __future__ import annotations

import argparse
import inspect
import statistics
import time
from typing import Any, Callable

import torch
import torchvision
from torch import nn

from nnlab.optim import OPTIMIZERS, build_optimizer

IMPLS = {"for-loop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}
TIMM_NAMES = {"sgd": "sgd", "momentum": "momentum", "nesterov": "nesterov", "adam": "adam", "adamw": "adamw",
              "rmsprop": "rmsprop", "adagrad": "adagrad", "nadam": "nadam", "radam": "radam", "adamp": "adamp",
              "sgdp": "sgdp", "lion": "lion"}


def make_model(device: torch.device) -> nn.Module:
    """ResNet-18 with fixed random gradients on every parameter (the same for every call)."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18().to(device)  # random init, nothing downloaded
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 0.01
    return model


def step_seconds(opt: torch.optim.Optimizer, device: torch.device) -> float:
    closure = (lambda: torch.tensor(1.0)) if isinstance(opt, torch.optim.LBFGS) else None
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    opt.step(closure)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def race(opts: dict[str, torch.optim.Optimizer], device: torch.device, rounds: int) -> dict[str, list[float]]:
    """Seconds of single steps of each optimizer, interleaved and rotated; one warm-up step each (state)."""
    for opt in opts.values():
        step_seconds(opt, device)
    times: dict[str, list[float]] = {k: [] for k in opts}
    keys = list(opts)
    for r in range(rounds):
        for k in keys[r % len(keys):] + keys[: r % len(keys)]:
            times[k].append(step_seconds(opts[k], device))
    return times


def implementations(name: str, device: torch.device) -> dict[str, Callable[[], torch.optim.Optimizer]]:
    """The implementations this optimizer's class offers on ``device`` (each a fresh optimizer factory)."""
    entry = OPTIMIZERS[name]
    params = inspect.signature(entry.cls).parameters
    out = {}
    for impl, flags in IMPLS.items():
        if all(k in params for k in flags):
            out[impl] = lambda flags=flags: build_optimizer(make_model(device), name, **flags)
    try:  # fused kernels exist for a few classes and devices only
        if "fused" in out:
            out["fused"]().step()
    except (RuntimeError, NotImplementedError, TypeError, ValueError):
        del out["fused"]
    return out


def chosen(opt: torch.optim.Optimizer) -> str:
    """The implementation an optimizer built with no flags runs (torch's default for its parameters' device)."""
    group = opt.param_groups[0]
    if group.get("fused"):
        return "fused"
    if group.get("foreach") is not None:
        return "foreach" if group["foreach"] else "for-loop"
    if "foreach" not in group:
        return "for-loop"  # a class without the multi-tensor path (timm's, lbfgs)
    from torch.optim.optimizer import _default_to_fused_or_foreach

    params = [p for g in opt.param_groups for p in g["params"]]
    return "foreach" if _default_to_fused_or_foreach(params, False, False)[1] else "for-loop"


def check_same(factories: dict[str, Callable[[], torch.optim.Optimizer]]) -> None:
    """Every implementation moves the weights like the for-loop does (two steps, float32 tolerance)."""
    weights = {}
    for impl, make in factories.items():
        opt = make()
        for _ in range(2):
            opt.step()
        weights[impl] = torch.cat([p.detach().flatten() for g in opt.param_groups for p in g["params"]])
    for impl, w in weights.items():
        torch.testing.assert_close(w, weights["for-loop"], rtol=1e-4, atol=1e-6, msg=f"{impl} differs")


def bench_implementations(names: list[str], device: torch.device, rounds: int) -> None:
    print("\n(1) implementations per optimizer; ms per step: fastest (median); * = what nnlab builds")
    print(f"{'optimizer':<10}{'for-loop':>16}{'foreach':>16}{'fused':>16}  nnlab uses  vs fastest")
    for name in names:
        factories = implementations(name, device)
        if "for-loop" not in factories or len(factories) < 2:
            print(f"{name:<10}  (one implementation only: {', '.join(factories) or 'no flags'})")
            continue
        check_same(factories)
        times = race({impl: make() for impl, make in factories.items()}, device, rounds)
        pick = chosen(build_optimizer(make_model(device), name))
        best = min(times, key=lambda k: min(times[k]))
        cells = [(_ms(times[i]) + ("*" if i == pick else " ")) if i in times else "-" for i in IMPLS]
        print(f"{name:<10}" + "".join(f"{c:>16}" for c in cells) +
              f"  {pick:<10}  {min(times[pick]) / min(times[best]):.2f}x ({best} fastest)")


def bench_groups(names: list[str], device: torch.device, rounds: int, weight_decay: float) -> None:
    from timm.optim import create_optimizer_v2

    print(f"\n(2) nnlab build_optimizer vs timm create_optimizer_v2, weight decay {weight_decay} (no decay on "
          "biases and norm weights in both); ms per step: fastest (median)")
    print(f"{'optimizer':<10}{'groups nnlab/timm':>19}{'same split':>12}{'nnlab':>16}{'timm':>16}{'ratio':>7}")
    for name in names:
        if name not in TIMM_NAMES:
            continue
        ours = build_optimizer(make_model(device), name, weight_decay=weight_decay)
        theirs = create_optimizer_v2(make_model(device), TIMM_NAMES[name], lr=ours.param_groups[0]["lr"],
                                     weight_decay=weight_decay, **_timm_extras(name))
        same = _decay_split(ours) == _decay_split(theirs)
        times = race({"nnlab": ours, "timm": theirs}, device, rounds)
        print(f"{name:<10}{len(ours.param_groups):>10}/{len(theirs.param_groups):<8}{str(same):>12}"
              f"{_ms(times['nnlab']):>16}{_ms(times['timm']):>16}{min(times['timm']) / min(times['nnlab']):7.2f}")


def _timm_extras(name: str) -> dict[str, Any]:
    """timm's keywords for nnlab's table defaults (momentum 0.9 where nnlab uses it, none for plain SGD)."""
    defaults = OPTIMIZERS[name].defaults
    return {"momentum": defaults.get("momentum", 0.0)} if name in ("sgd", "momentum", "nesterov", "sgdp") else {}


def _decay_split(opt: torch.optim.Optimizer) -> tuple[int, int]:
    """(parameters with weight decay, parameters without) — the grouping both libraries claim to make."""
    decay = sum(len(g["params"]) for g in opt.param_groups if g.get("weight_decay", 0) > 0)
    return decay, sum(len(g["params"]) for g in opt.param_groups) - decay


def _ms(times: list[float]) -> str:
    return f"{1000 * min(times):.1f} ({1000 * statistics.median(times):.1f})"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--optims", default=",".join(n for n in OPTIMIZERS if n != "lbfgs"))
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    names = args.optims.split(",")
    n = sum(q.numel() for q in make_model(device).parameters())
    print(f"ResNet-18, {n / 1e6:.1f}M parameters on {device} ({torch.get_num_threads()} threads), torch "
          f"{torch.__version__}; {args.rounds} single steps each")
    bench_implementations(names, device, args.rounds)
    bench_groups(names, device, args.rounds, args.weight_decay)


if __name__ == "__main__":
    main()
