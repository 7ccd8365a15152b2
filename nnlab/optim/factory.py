"""The optimizer table: name -> torch class, defaults and capability flags; ``build_optimizer``."""
from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass, field
from typing import Any, Iterable

import torch
from torch import nn

from nnlab.errors import ConfigError


@dataclass(frozen=True)
class OptimizerEntry:
    cls: type[torch.optim.Optimizer]
    defaults: dict[str, Any] = field(default_factory=dict)  # applied unless the user overrides them
    lr: float = 0.01  # a sensible default learning rate for this optimizer
    rule: str = ""  # one-line update rule
    has_momentum: bool = False
    has_betas: bool = False


OPTIMIZERS: dict[str, OptimizerEntry] = {
    "sgd": OptimizerEntry(torch.optim.SGD, {}, 0.1, "w -= lr * g"),
    "momentum": OptimizerEntry(torch.optim.SGD, {"momentum": 0.9}, 0.05,
                               "v = mu*v + g; w -= lr * v", has_momentum=True),
    "nesterov": OptimizerEntry(torch.optim.SGD, {"momentum": 0.9, "nesterov": True}, 0.05,
                               "v = mu*v + g; w -= lr * (g + mu*v)", has_momentum=True),
    "adam": OptimizerEntry(torch.optim.Adam, {}, 1e-3,
                           "m,v = EMAs of g, g^2; w -= lr * m_hat / (sqrt(v_hat) + eps)", has_betas=True),
}


def _fused_kw(cls: type[torch.optim.Optimizer]) -> dict[str, Any]:
    """Ask for the multi-tensor (foreach) implementation where the class offers it."""
    return {"foreach": True} if "foreach" in inspect.signature(cls).parameters else {}


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


def build_optimizer(model: nn.Module, name: str, lr: float | None = None, weight_decay: float = 0.0,
                    **options: Any) -> torch.optim.Optimizer:
    """Build optimizer ``name`` over the model's trainable parameters."""
    entry = check_options(name, ["lr", "weight_decay", *options])
    if lr is not None and lr <= 0:
        raise ConfigError("config key 'optim.lr' must be positive")
    params = [p for p in model.parameters() if p.requires_grad]
    kwargs = {**_fused_kw(entry.cls), **entry.defaults, **options,
              "lr": entry.lr if lr is None else lr, "weight_decay": weight_decay}
    return entry.cls(params, **kwargs)
