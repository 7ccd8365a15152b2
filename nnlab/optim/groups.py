"""Parameter groups: weight decay off for biases and normalization parameters, per-module lr multipliers.

``lr_mult`` follows DIGITS/Caffe fine-tuning: a module's learning rate is ``lr * mult``; ``0`` freezes the
module (its parameters get ``requires_grad=False`` and are left out of the optimizer, so they stay bit-identical).
"""
from __future__ import annotations

from typing import Any, Mapping

from torch import nn

from nnlab.errors import ConfigError

# Modules whose parameters are scales and shifts of normalized activations: decaying them towards 0 only hurts.
NORM_TYPES: tuple[type[nn.Module], ...] = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm,
                                           nn.LocalResponseNorm, nn.RMSNorm)


def no_decay_names(model: nn.Module) -> set[str]:
    """Names of the parameters that get no weight decay: every ``*bias`` and every normalization parameter."""
    out = set()
    for mod_name, module in model.named_modules():
        for p_name, _ in module.named_parameters(recurse=False):
            if p_name == "bias" or isinstance(module, NORM_TYPES):
                out.add(f"{mod_name}.{p_name}" if mod_name else p_name)
    return out


def lr_multipliers(model: nn.Module, lr_mult: Mapping[str, float]) -> dict[str, float]:
    """Each parameter's multiplier: the value of the longest ``lr_mult`` key naming it or a module above it
    (``"features"`` covers ``features.0.weight``); 1 where no key applies."""
    modules = {name for name, _ in model.named_modules() if name}
    for key, mult in lr_mult.items():
        if key not in modules:
            close = sorted(m for m in modules if "." not in m)
            raise ConfigError(f"config key 'optim.lr_mult.{key}' names no module of the model "
                              f"(top-level modules: {', '.join(close)})")
        if not isinstance(mult, (int, float)) or isinstance(mult, bool) or mult < 0:
            raise ConfigError(f"config key 'optim.lr_mult.{key}' must be a number >= 0 (got {mult!r})")
    out = {}
    for name, _ in model.named_parameters():
        keys = [k for k in lr_mult if name.startswith(k + ".")]
        out[name] = float(lr_mult[max(keys, key=len)]) if keys else 1.0
    return out


def param_groups(model: nn.Module, lr: float, weight_decay: float, no_decay_bias_norm: bool = True,
                 lr_mult: Mapping[str, float] | None = None) -> list[dict[str, Any]]:
    """Optimizer parameter groups, one per distinct (lr multiplier, weight decay), in model order.

    Freezes (``requires_grad=False``) the parameters whose multiplier is 0; skips already frozen ones.
    """
    mults = lr_multipliers(model, lr_mult or {})
    skip_decay = no_decay_names(model) if no_decay_bias_norm else set()
    groups: dict[tuple[float, float], dict[str, Any]] = {}
    for name, p in model.named_parameters():
        if mults[name] == 0.0:
            p.requires_grad_(False)
        if not p.requires_grad:
            continue
        wd = 0.0 if name in skip_decay else weight_decay
        group = groups.setdefault((mults[name], wd), {"params": [], "names": [], "lr": lr * mults[name],
                                                      "lr_mult": mults[name], "weight_decay": wd})
        group["params"].append(p)
        group["names"].append(name)
    if not groups:
        raise ConfigError("the model has no trainable parameters (every one is frozen or has lr_mult 0)")
    return list(groups.values())
