"""Regularizers beyond the model's own dropout / normalization (notes: Regularization): explicit L1/L2
penalties, noise on inputs and weights, label smoothing, mixup and CutMix. Built from the config's
``regularize`` section by ``build``; the trainer sees a ``StepRegularizer``, the train loader a transform."""
from __future__ import annotations

from nnlab.config import RegularizeConfig
from nnlab.regularize import mix, noise, penalties
from nnlab.regularize.hooks import BatchTransform, StepRegularizer, TargetTransform, chain, check_mixable
from nnlab.regularize.mix import Mixer
from nnlab.regularize.penalties import Penalty


def build(cfg: RegularizeConfig, num_classes: int) -> tuple[StepRegularizer | None, TargetTransform | None]:
    """The step hook and the batch transform of a ``regularize`` section (None where nothing is on)."""
    penalty = Penalty(cfg.l1, cfg.l2, cfg.include_bias)
    step = StepRegularizer(penalty, cfg.noise.weight_std) if penalty or cfg.noise.weight_std > 0 else None
    mixer = Mixer(cfg.mixup, cfg.cutmix, cfg.mix_prob, cfg.switch_prob)
    on = cfg.noise.input_std > 0 or cfg.label_smoothing > 0 or bool(mixer)
    transform = TargetTransform(num_classes, cfg.noise.input_std, cfg.label_smoothing, mixer) if on else None
    return step, transform


__all__ = ["BatchTransform", "Mixer", "Penalty", "StepRegularizer", "TargetTransform", "build", "chain",
           "check_mixable", "mix", "noise", "penalties"]
