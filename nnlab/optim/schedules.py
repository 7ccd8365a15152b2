"""Learning-rate schedules as data: name -> builder and formula; ``build_scheduler``; ``lr_curve`` for previews.

``t`` counts scheduler steps: optimizer steps when ``per_step`` is true, epochs otherwise; ``T`` is the run's
length in those units. Every duration below (stepsize, stepvalues, warmup, max_iter) is in the same units.
The Caffe/DIGITS policies keep Caffe's parameter names and meanings (caffe/src/caffe/solvers/sgd_solver.cpp).
torch.optim.lr_scheduler provides step, multistep, exp, poly, cosine, onecycle and plateau; the closed-form
policies torch lacks (fixed, inv, sigmoid, warmup_cosine) are LambdaLR factors defined here.
"""
from __future__ import annotations

import difflib
import inspect
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import torch
from torch.optim import lr_scheduler as lrs

from nnlab.errors import ConfigError


@dataclass
class _Fixed:
    def __call__(self, t: int) -> float:
        return 1.0


@dataclass
class _Inv:
    gamma: float
    power: float

    def __call__(self, t: int) -> float:
        return (1.0 + self.gamma * t) ** -self.power


@dataclass
class _Sigmoid:
    gamma: float
    stepsize: float

    def __call__(self, t: int) -> float:
        return 1.0 / (1.0 + math.exp(-self.gamma * (t - self.stepsize)))


@dataclass
class _WarmupCosine:
    warmup: int
    total: int
    min_ratio: float  # min_lr / base_lr of the group

    def __call__(self, t: int) -> float:
        if t < self.warmup:
            return (t + 1) / self.warmup
        progress = min((t - self.warmup) / max(self.total - self.warmup, 1), 1.0)
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _fixed(opt: torch.optim.Optimizer, total: int) -> lrs.LRScheduler:
    return lrs.LambdaLR(opt, _Fixed())


def _step(opt: torch.optim.Optimizer, total: int, stepsize: int | None = None, gamma: float = 0.1) -> lrs.LRScheduler:
    stepsize = max(1, round(0.33 * total)) if stepsize is None else stepsize
    _positive("stepsize", stepsize)
    _positive("gamma", gamma)
    return lrs.StepLR(opt, step_size=stepsize, gamma=gamma)


def _multistep(opt: torch.optim.Optimizer, total: int, stepvalues: list[int] | None = None,
               gamma: float = 0.1) -> lrs.LRScheduler:
    stepvalues = [max(1, total // 2), max(1, 3 * total // 4)] if stepvalues is None else stepvalues
    if not all(isinstance(v, int) and v > 0 for v in stepvalues) or sorted(stepvalues) != list(stepvalues):
        raise ConfigError(f"config key 'optim.schedule.stepvalues' must be increasing positive integers "
                          f"(got {stepvalues!r})")
    _positive("gamma", gamma)
    return lrs.MultiStepLR(opt, milestones=list(stepvalues), gamma=gamma)


def _exp(opt: torch.optim.Optimizer, total: int, gamma: float = 0.95) -> lrs.LRScheduler:
    _positive("gamma", gamma)
    return lrs.ExponentialLR(opt, gamma=gamma)


def _inv(opt: torch.optim.Optimizer, total: int, gamma: float = 0.1, power: float = 0.75) -> lrs.LRScheduler:
    _positive("gamma", gamma)
    return lrs.LambdaLR(opt, _Inv(gamma, power))


def _poly(opt: torch.optim.Optimizer, total: int, power: float = 3.0, max_iter: int | None = None) -> lrs.LRScheduler:
    max_iter = total if max_iter is None else max_iter
    _positive("max_iter", max_iter)
    return lrs.PolynomialLR(opt, total_iters=max_iter, power=power)


def _sigmoid(opt: torch.optim.Optimizer, total: int, gamma: float | None = None,
             stepsize: int | None = None) -> lrs.LRScheduler:
    gamma = -12.0 / total if gamma is None else gamma  # falls from ~1 to ~0 over the run
    return lrs.LambdaLR(opt, _Sigmoid(gamma, total / 2 if stepsize is None else stepsize))


def _cosine(opt: torch.optim.Optimizer, total: int, min_lr: float = 0.0) -> lrs.LRScheduler:
    return lrs.CosineAnnealingLR(opt, T_max=total, eta_min=min_lr)


def _warmup_cosine(opt: torch.optim.Optimizer, total: int, warmup: int | None = None,
                   min_lr: float = 0.0) -> lrs.LRScheduler:
    warmup = max(1, round(0.05 * total)) if warmup is None else warmup
    if not isinstance(warmup, int) or warmup < 1 or warmup >= total:
        raise ConfigError(f"config key 'optim.schedule.warmup' ({warmup}) must be at least 1 and shorter than "
                          f"the run ({total} scheduler steps)")
    return lrs.LambdaLR(opt, [_WarmupCosine(warmup, total, min_lr / g["lr"]) for g in opt.param_groups])


def _onecycle(opt: torch.optim.Optimizer, total: int, max_lr: float | None = None, pct_start: float = 0.3,
              div_factor: float = 25.0, final_div_factor: float = 1e4, anneal_strategy: str = "cos",
              three_phase: bool = False, cycle_momentum: bool | None = None) -> lrs.LRScheduler:
    if cycle_momentum is None:  # only where the optimizer has a momentum to cycle (never add one to plain SGD)
        d = opt.defaults
        cycle_momentum = "betas" in d or d.get("momentum", 0) > 0
    peak = [g["lr"] for g in opt.param_groups] if max_lr is None else max_lr
    return lrs.OneCycleLR(opt, max_lr=peak, total_steps=total, pct_start=pct_start, div_factor=div_factor,
                          final_div_factor=final_div_factor, anneal_strategy=anneal_strategy,
                          three_phase=three_phase, cycle_momentum=cycle_momentum)


def _plateau(opt: torch.optim.Optimizer, total: int, mode: str = "max", factor: float = 0.1, patience: int = 10,
             threshold: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0) -> lrs.ReduceLROnPlateau:
    if not 0 < factor < 1:
        raise ConfigError(f"config key 'optim.schedule.factor' must be in (0, 1) (got {factor})")
    return lrs.ReduceLROnPlateau(opt, mode=mode, factor=factor, patience=patience, threshold=threshold,
                                 cooldown=cooldown, min_lr=min_lr)


@dataclass(frozen=True)
class ScheduleEntry:
    build: Callable[..., Any]  # build(optimizer, total, **params)
    formula: str  # lr(t) for base learning rate lr0
    monitored: bool = False  # steps on the monitored validation metric, once per epoch


SCHEDULES: dict[str, ScheduleEntry] = {
    "fixed": ScheduleEntry(_fixed, "lr0"),
    "step": ScheduleEntry(_step, "lr0 * gamma^floor(t/stepsize)   (stepsize default T*0.33)"),
    "multistep": ScheduleEntry(_multistep, "lr0 * gamma^(number of stepvalues <= t)"),
    "exp": ScheduleEntry(_exp, "lr0 * gamma^t"),
    "inv": ScheduleEntry(_inv, "lr0 * (1 + gamma*t)^(-power)"),
    "poly": ScheduleEntry(_poly, "lr0 * (1 - t/max_iter)^power   (max_iter default T)"),
    "sigmoid": ScheduleEntry(_sigmoid, "lr0 / (1 + exp(-gamma*(t - stepsize)))   (defaults: gamma -12/T, "
                                       "stepsize T/2)"),
    "cosine": ScheduleEntry(_cosine, "min_lr + (lr0 - min_lr) * (1 + cos(pi*t/T))/2"),
    "warmup_cosine": ScheduleEntry(_warmup_cosine, "lr0*(t+1)/warmup for t < warmup, then cosine from lr0 to "
                                                   "min_lr over the rest"),
    "onecycle": ScheduleEntry(_onecycle, "up from max_lr/div_factor to max_lr over pct_start*T, then down to "
                                         "max_lr/(div_factor*final_div_factor) (Smith 2018)"),
    "plateau": ScheduleEntry(_plateau, "lr * factor after `patience` epochs without improvement of the "
                                       "monitored metric", monitored=True),
}


def schedule_options(name: str) -> dict[str, Any]:
    """The options schedule ``name`` takes and their defaults (None: derived from the run length)."""
    entry = check_schedule(name, ())
    params = list(inspect.signature(entry.build).parameters.values())[2:]
    return {p.name: p.default for p in params if p.name != "mode"}


def check_schedule(name: str, options: Iterable[str], per_step: bool = False) -> ScheduleEntry:
    """The entry for ``name``; raises if it is unknown, does not take one of ``options`` or cannot run per step."""
    if name not in SCHEDULES:
        close = difflib.get_close_matches(name, list(SCHEDULES), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown schedule {name!r}.{hint} Valid names: {', '.join(SCHEDULES)}")
    entry = SCHEDULES[name]
    accepted = [k for k in inspect.signature(entry.build).parameters if k not in ("opt", "total", "mode")]
    for key in options:
        if key not in accepted:
            raise ConfigError(f"schedule {name!r} does not take option 'optim.schedule.{key}' "
                              f"(it takes: {', '.join(accepted) or 'no options'})")
    if per_step and entry.monitored:
        raise ConfigError(f"schedule {name!r} steps on a validation metric once per epoch; "
                          "set optim.schedule.per_step: false")
    return entry


def build_scheduler(optimizer: torch.optim.Optimizer, name: str, *, total: int, per_step: bool = False,
                    mode: str = "max", **params: Any) -> Any:
    """Scheduler ``name`` over a run of ``total`` scheduler steps; ``.per_step`` tells the trainer when to step
    it. ``mode`` (max/min) is the monitored metric's direction, used by ``plateau``."""
    entry = check_schedule(name, params, per_step)
    if total < 1:
        raise ConfigError("the run has no optimizer steps to schedule")
    extra = {"mode": mode} if entry.monitored else {}
    try:
        scheduler = entry.build(optimizer, total, **params, **extra)
    except (TypeError, ValueError) as e:  # torch's own checks of the values (e.g. pct_start out of range)
        raise ConfigError(f"schedule {name!r}: {e}") from None
    scheduler.per_step = per_step
    return scheduler


def lr_curve(name: str, lr: float, epochs: int, steps_per_epoch: int, per_step: bool = False,
             **params: Any) -> list[float]:
    """The learning rate of every optimizer step of a run, as the trainer would apply it (``plateau`` is
    shown without reductions: they depend on the metric)."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    total = epochs * steps_per_epoch if per_step else epochs
    sched = build_scheduler(opt, name, total=total, per_step=per_step, **params)
    out = []
    for epoch in range(epochs):
        for _ in range(steps_per_epoch):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            if per_step:
                sched.step()
        if not per_step:
            sched.step(epoch) if isinstance(sched, lrs.ReduceLROnPlateau) else sched.step()
    return out


def _positive(key: str, value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"config key 'optim.schedule.{key}' must be a positive number (got {value!r})")
