"""The two small objects the trainer sees: a training step hook (weight noise, penalty term) and the
training batch transform (input noise, label smoothing, mixup / CutMix) that the train loader applies."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from nnlab.errors import ConfigError
from nnlab.regularize.mix import MIXABLE_TASKS, Mixer, one_hot, smooth_labels
from nnlab.regularize.noise import add_noise, noisy_forward
from nnlab.regularize.penalties import Penalty

BatchTransform = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


class StepRegularizer:
    """What the trainer calls in a training step: ``forward`` (with weight noise) and ``penalty``."""

    def __init__(self, penalty: Penalty, weight_std: float = 0.0) -> None:
        self.penalty_fn, self.weight_std = penalty, weight_std

    def forward(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return noisy_forward(model, x, self.weight_std)

    def penalty(self, model: nn.Module) -> torch.Tensor | None:
        """The explicit penalty on the clean weights, or None when no penalty is set."""
        return self.penalty_fn(model) if self.penalty_fn else None


class TargetTransform:
    """Training batches: noise on inputs, then soft targets (smoothing, then mixing)."""

    def __init__(self, num_classes: int, input_std: float = 0.0, label_smoothing: float = 0.0,
                 mixer: Mixer | None = None, generator: torch.Generator | None = None) -> None:
        self.num_classes, self.input_std, self.label_smoothing = num_classes, input_std, label_smoothing
        self.mixer, self.generator = mixer, generator

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = add_noise(x, self.input_std, self.generator)
        if self.label_smoothing > 0:
            y = smooth_labels(y, self.num_classes, self.label_smoothing)
        if self.mixer:
            x, y = self.mixer(x, one_hot(y, self.num_classes))
        return x, y


def check_mixable(task: str, mixup: float, cutmix: float) -> None:
    """Mixing needs targets that are class distributions; refuse it elsewhere before any work starts."""
    for key, alpha in (("mixup", mixup), ("cutmix", cutmix)):
        if alpha > 0 and task not in MIXABLE_TASKS:
            raise ConfigError(f"config key 'regularize.{key}' cannot be used for task {task!r}: its labels "
                              f"cannot be mixed (only {', '.join(MIXABLE_TASKS)})")


def chain(*transforms: BatchTransform | None) -> BatchTransform | None:
    """One batch transform running the given ones in order (None entries skipped; None if all are)."""
    steps = [t for t in transforms if t is not None]
    if not steps:
        return None

    def run(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for t in steps:
            x, y = t(x, y)
        return x, y

    return run
