"""The optimizer playground: 2-D test functions and a race of optimizers from the same start point.

Reproduces the well-known comparison animations the notes link to (Radford's "optimizer race" on Beale's
function and a saddle): every optimizer is the nnlab table's (``build_optimizer``), stepping one 2-D point.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from nnlab.errors import ConfigError
from nnlab.optim.factory import build_optimizer, check_options

Fn2D = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class TestFunction:
    fn: Fn2D  # elementwise on tensors (also draws the contour plot)
    start: tuple[float, float]
    bounds: tuple[tuple[float, float], tuple[float, float]]  # (x range, y range) of the plot
    minima: tuple[tuple[float, float], ...]
    min_value: float
    lr_sgd: float  # race learning rates: SGD family / adaptive methods (adadelta and lbfgs use their own)
    lr_adaptive: float
    formula: str


def _rotated_quadratic(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    u, v = (x + y) / math.sqrt(2), (x - y) / math.sqrt(2)
    return 0.5 * (u ** 2 + 50 * v ** 2)


FUNCTIONS: dict[str, TestFunction] = {
    "rosenbrock": TestFunction(lambda x, y: (1 - x) ** 2 + 100 * (y - x ** 2) ** 2, (-1.2, 1.0),
                               ((-2.0, 2.0), (-1.0, 3.0)), ((1.0, 1.0),), 0.0, 1e-3, 0.05,
                               "(1 - x)^2 + 100 (y - x^2)^2"),
    "beale": TestFunction(lambda x, y: (1.5 - x + x * y) ** 2 + (2.25 - x + x * y ** 2) ** 2
                          + (2.625 - x + x * y ** 3) ** 2, (1.0, 1.5), ((-4.5, 4.5), (-4.5, 4.5)),
                          ((3.0, 0.5),), 0.0, 1e-3, 0.05,
                          "(1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2"),
    "himmelblau": TestFunction(lambda x, y: (x ** 2 + y - 11) ** 2 + (x + y ** 2 - 7) ** 2, (-0.3, -0.9),
                               ((-5.0, 5.0), (-5.0, 5.0)),
                               ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)),
                               0.0, 5e-3, 0.1, "(x^2 + y - 11)^2 + (x + y^2 - 7)^2"),
    "saddle": TestFunction(lambda x, y: x ** 2 - y ** 2 + 0.25 * y ** 4, (1.0, 1e-3), ((-1.5, 1.5), (-2.0, 2.0)),
                           ((0.0, math.sqrt(2)), (0.0, -math.sqrt(2))), -1.0, 0.05, 0.05,
                           "x^2 - y^2 + y^4/4 (saddle at the origin; bounded below so the race ends)"),
    "ill_conditioned": TestFunction(_rotated_quadratic, (-2.0, -1.0), ((-2.5, 2.5), (-2.5, 2.5)), ((0.0, 0.0),),
                                    0.0, 0.02, 0.05, "(u^2 + 50 v^2)/2, u = (x+y)/sqrt2, v = (x-y)/sqrt2"),
    "rastrigin": TestFunction(lambda x, y: 20 + x ** 2 - 10 * torch.cos(2 * math.pi * x) + y ** 2
                              - 10 * torch.cos(2 * math.pi * y), (2.3, 1.8), ((-3.0, 3.0), (-3.0, 3.0)),
                              ((0.0, 0.0),), 0.0, 2e-3, 0.1, "20 + sum(z^2 - 10 cos(2 pi z)), z in (x, y)"),
}


@dataclass
class RaceResult:
    name: str
    lr: float
    path: np.ndarray  # (steps + 1, 2) positions, fewer rows when the optimizer diverged
    losses: np.ndarray  # (len(path),)
    steps_to_tol: int | None  # first step with f - f_min <= tol; None: never
    diverged: bool


class _Point(nn.Module):
    def __init__(self, start: tuple[float, float]) -> None:
        super().__init__()
        self.xy = nn.Parameter(torch.tensor(start, dtype=torch.float64))


def get_function(name: str) -> TestFunction:
    if name not in FUNCTIONS:
        raise ConfigError(f"unknown test function {name!r}; valid names: {', '.join(FUNCTIONS)}")
    return FUNCTIONS[name]


def race_lr(optimizer: str, fn: TestFunction) -> float:
    """The learning rate an optimizer races with on ``fn``: one per family, as in the classic figures."""
    entry = check_options(optimizer, ())
    if optimizer in ("adadelta", "lbfgs"):
        return entry.lr
    return fn.lr_adaptive if entry.adaptive or entry.has_betas else fn.lr_sgd


def run_one(fn: TestFunction, name: str, steps: int, lr: float, tol: float = 1e-3) -> RaceResult:
    """Optimize ``fn`` with optimizer ``name`` from ``fn.start`` for ``steps`` steps."""
    point = _Point(fn.start)
    opt = build_optimizer(point, name, lr=lr)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        value = fn.fn(point.xy[0], point.xy[1])
        value.backward()
        return value

    path, losses = [point.xy.detach().clone()], [float(fn.fn(*point.xy.detach()))]
    reached = 0 if losses[0] - fn.min_value <= tol else None
    for step in range(1, steps + 1):
        opt.step(closure)
        xy = point.xy.detach().clone()
        loss = float(fn.fn(*xy))
        if not (math.isfinite(loss) and bool(torch.isfinite(xy).all())) or xy.abs().max() > 1e6:
            return RaceResult(name, lr, torch.stack(path).numpy(), np.array(losses), reached, True)
        path.append(xy)
        losses.append(loss)
        if reached is None and loss - fn.min_value <= tol:
            reached = step
    return RaceResult(name, lr, torch.stack(path).numpy(), np.array(losses), reached, False)


def race(function: str, optimizers: Sequence[str], steps: int = 500, lrs: dict[str, float] | None = None,
         tol: float = 1e-3) -> list[RaceResult]:
    """Every optimizer from the same start on test function ``function``; ``lrs`` overrides learning rates."""
    fn = get_function(function)
    lrs = lrs or {}
    for name in optimizers:
        check_options(name, ())
    unknown = set(lrs) - set(optimizers)
    if unknown:
        raise ConfigError(f"--lr names optimizers that are not racing: {', '.join(sorted(unknown))}")
    if steps < 1:
        raise ConfigError("--steps must be at least 1")
    return [run_one(fn, name, steps, lrs.get(name) or race_lr(name, fn), tol) for name in optimizers]
