"""The optimizer table (timm style): name -> class, defaults, capability flags, update rule; ``build_optimizer``.

torch.optim provides every algorithm it has (choosing its foreach/fused paths by device); timm provides
AdamP, SGDP (Heo et al. 2021, arXiv:2006.08217) and Lion (Chen et al. 2023, arXiv:2302.06675). Nothing here
re-implements an update rule; the table only names, documents and configures them.
"""
from __future__ import annotations

import difflib
import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import torch
from torch import nn

from nnlab.errors import ConfigError
from nnlab.optim.groups import param_groups


@dataclass(frozen=True)
class OptimizerEntry:
    target: type[torch.optim.Optimizer] | str  # the class, or "module:Class" imported on first use (timm: ~2 s)
    defaults: dict[str, Any] = field(default_factory=dict)  # applied unless the user overrides them
    lr: float = 0.01  # a sensible default learning rate for this optimizer (small CNNs / MLPs)
    rule: str = ""  # one-line update rule (g: gradient, w: weights, t: step)
    has_momentum: bool = False
    has_betas: bool = False
    adaptive: bool = False  # per-parameter step sizes from gradient statistics
    needs_closure: bool = False  # step(closure) re-evaluates the loss (quasi-Newton line search)
    single_group: bool = False  # takes one parameter group only (no per-group lr or decay)

    @property
    def cls(self) -> type[torch.optim.Optimizer]:
        if isinstance(self.target, str):
            module, name = self.target.split(":")
            return getattr(importlib.import_module(module), name)
        return self.target

    def options(self) -> dict[str, Any]:
        """Every keyword the class takes, with the value nnlab uses when the user gives none."""
        sig = inspect.signature(self.cls).parameters
        out = {k: p.default for k, p in sig.items() if k != "params" and p.default is not inspect.Parameter.empty}
        return {**out, **self.defaults, "lr": self.lr}


OPTIMIZERS: dict[str, OptimizerEntry] = {
    "sgd": OptimizerEntry(torch.optim.SGD, {}, 0.1, "w -= lr*g"),
    "momentum": OptimizerEntry(torch.optim.SGD, {"momentum": 0.9}, 0.05,
                               "v = mu*v + g; w -= lr*v  (notes: v = a*v - lr*g; w += v)", has_momentum=True),
    "nesterov": OptimizerEntry(torch.optim.SGD, {"momentum": 0.9, "nesterov": True}, 0.05,
                               "v = mu*v + g; w -= lr*(g + mu*v)  (gradient at the look-ahead point)",
                               has_momentum=True),
    "adagrad": OptimizerEntry(torch.optim.Adagrad, {}, 0.05,
                              "G += g^2; w -= lr*g / (sqrt(G) + eps)", adaptive=True),
    "adadelta": OptimizerEntry(torch.optim.Adadelta, {}, 1.0,
                               "E[g2] = rho*E[g2] + (1-rho)*g^2; d = sqrt(E[d2]+eps)/sqrt(E[g2]+eps)*g; "
                               "E[d2] = rho*E[d2] + (1-rho)*d^2; w -= lr*d", adaptive=True),
    "rmsprop": OptimizerEntry(torch.optim.RMSprop, {}, 1e-3,
                              "s = alpha*s + (1-alpha)*g^2; w -= lr*g / (sqrt(s) + eps)", adaptive=True),
    "adam": OptimizerEntry(torch.optim.Adam, {}, 1e-3,
                           "m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2; w -= lr*m_hat / (sqrt(v_hat) + eps)",
                           has_betas=True, adaptive=True),
    "adamw": OptimizerEntry(torch.optim.AdamW, {}, 1e-3,
                            "Adam with decoupled weight decay: w -= lr*(m_hat/(sqrt(v_hat)+eps) + wd*w)",
                            has_betas=True, adaptive=True),
    "nadam": OptimizerEntry(torch.optim.NAdam, {}, 2e-3,
                            "Adam with a Nesterov look-ahead on the first moment", has_betas=True, adaptive=True),
    "radam": OptimizerEntry(torch.optim.RAdam, {}, 1e-3,
                            "Adam whose adaptive step is rectified (SGD-with-momentum while the variance of v "
                            "is untrustworthy)", has_betas=True, adaptive=True),
    "adamp": OptimizerEntry("timm.optim:AdamP", {}, 1e-3,
                            "Adam that removes the radial component of the update for scale-invariant weights",
                            has_betas=True, adaptive=True),
    "sgdp": OptimizerEntry("timm.optim:SGDP", {"momentum": 0.9}, 0.05,
                           "momentum SGD that removes the radial component for scale-invariant weights",
                           has_momentum=True),
    "lbfgs": OptimizerEntry(torch.optim.LBFGS, {"line_search_fn": "strong_wolfe"}, 1.0,
                            "quasi-Newton: w -= lr*H*g, H from the last history_size (dw, dg) pairs; strong-Wolfe "
                            "line search (best with batch_size: full)",
                            needs_closure=True, single_group=True),
    "lion": OptimizerEntry("timm.optim:Lion", {}, 1e-4,
                           "m' = b1*m + (1-b1)*g; w -= lr*(sign(m') + wd*w); m = b2*m + (1-b2)*g",
                           has_betas=True),
}


def check_options(name: str, options: Iterable[str]) -> OptimizerEntry:
    """The entry for ``name``; raises if it is unknown or does not take one of ``options``."""
    if name not in OPTIMIZERS:
        close = difflib.get_close_matches(name, list(OPTIMIZERS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown optimizer {name!r}.{hint} Valid names: {', '.join(sorted(OPTIMIZERS))}")
    entry = OPTIMIZERS[name]
    accepted = set(inspect.signature(entry.cls).parameters) - {"params"}
    for key in options:
        if key not in accepted:
            raise ConfigError(f"optimizer {name!r} does not take option 'optim.{key}' "
                              f"(it takes: {', '.join(sorted(accepted))})")
    return entry


def build_optimizer(model: nn.Module, name: str, lr: float | None = None, weight_decay: float = 0.0, *,
                    no_decay_bias_norm: bool = True, lr_mult: Mapping[str, float] | None = None,
                    **options: Any) -> torch.optim.Optimizer:
    """Optimizer ``name`` over the model's trainable parameters, in groups by learning-rate multiplier and
    weight decay (see ``nnlab.optim.groups.param_groups``). ``lr=None``: the table's default."""
    entry = check_options(name, ["lr", *options] + (["weight_decay"] if weight_decay else []))
    if lr is not None and lr <= 0:
        raise ConfigError(f"config key 'optim.lr' must be positive (got {lr})")
    if weight_decay < 0:
        raise ConfigError(f"config key 'optim.weight_decay' must be >= 0 (got {weight_decay})")
    base_lr = entry.lr if lr is None else lr
    groups = param_groups(model, base_lr, weight_decay, no_decay_bias_norm, lr_mult or {})
    if "weight_decay" not in inspect.signature(entry.cls).parameters:  # lbfgs
        for g in groups:
            del g["weight_decay"]
    if entry.single_group and len(groups) > 1:
        raise ConfigError(f"optimizer {name!r} takes a single parameter group: use lr_mult values of 0 or 1 "
                          "only, and no weight decay")
    # No implementation flag: torch picks its multi-tensor (foreach) path when the parameters are on a GPU and
    # the per-tensor loop on CPU, where it measured faster here (benchmarks/optim_step.py); optim.foreach: true
    # or optim.fused: true ask for one explicitly.
    return entry.cls(groups, **{**entry.defaults, **options, "lr": base_lr})
