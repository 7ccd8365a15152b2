"""Model EMA: an exponential moving average of the weights, kept beside the trained model.

After every optimizer step ``ema = d * ema + (1 - d) * weights`` for each parameter (the rule of
``torch.optim.swa_utils.get_ema_multi_avg_fn``, timm's ModelEmaV2, Ultralytics' ModelEMA); buffers (BatchNorm
running statistics, counters) are copied, not averaged. The average smooths the last stretch of noisy steps,
so it usually validates better and more steadily than the raw weights; the trainer validates, tests and saves
``best.pt`` with it. ``warmup`` (steps, Ultralytics' ramp) lowers the decay early, ``d_n = decay * (1 -
exp(-n / warmup))``, so the average is not dominated by the random initial weights in a short run.
"""
from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn


class ModelEma:
    """The averaged copy (``module``, always in eval mode, no gradients) of a model, updated by ``update``."""

    def __init__(self, model: nn.Module, decay: float, warmup: int = 0) -> None:
        self.decay, self.warmup = decay, warmup
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self.updates = 0  # optimizer steps averaged so far

    def decay_now(self) -> float:
        """The decay of the next update: ``decay``, ramped up over the first ``warmup`` steps."""
        if self.warmup <= 0:
            return self.decay
        return self.decay * (1.0 - math.exp(-(self.updates + 1) / self.warmup))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One step of the average towards ``model``'s current weights; buffers copied."""
        d = self.decay_now()
        ema, now = list(self.module.parameters()), [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(ema, now, 1.0 - d)  # e += (1 - d)(p - e), all parameters at once
        for e, b in zip(self.module.buffers(), model.buffers()):
            e.copy_(b)
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["model"])
        self.updates = int(state["updates"])


def eval_weights(ckpt: dict[str, Any]) -> dict[str, Any]:
    """The weights a checkpoint is evaluated with: the EMA's when the run kept one, else the model's."""
    ema = ckpt.get("ema")
    return ema["model"] if ema else ckpt["model"]
