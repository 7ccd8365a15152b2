"""PixelCNN's objective: the exact negative log-likelihood in nats per image (summed over pixels) and in bits
per dimension (nats / (C H W ln 2)); a grid of samples drawn pixel by pixel for ``nnlab eval``."""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nnlab.engine.trainer import Logs
from nnlab.errors import DataError
from nnlab.models.generative.pixelcnn import PixelCNN
from nnlab.tasks.generate.common import Objective, Sums


def pixelcnn_nll(model: PixelCNN, target: torch.Tensor) -> torch.Tensor:
    """-log p(x) in nats per image (B,) for pixels ``target`` in [0, 1] (B, C, H, W)."""
    logits = model(target).float()
    if model.levels == 2:
        return F.binary_cross_entropy_with_logits(logits, target.round(), reduction="none").flatten(1).sum(1)
    return F.cross_entropy(logits, model.to_levels(target), reduction="none").flatten(1).sum(1)


class PixelCNNEvaluator:
    def __init__(self, objective: "Autoregressive") -> None:
        self.objective, self.sums = objective, Sums()
        self.model: nn.Module | None = None

    def update(self, model: PixelCNN, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        self.model = model
        self.sums.add(**{k: v for k, v in self.objective.per_image(model, batch[0]).items()})

    def compute(self) -> dict[str, float]:
        return self.sums.means("loss", "bpd")


class Autoregressive(Objective):
    """The chain rule over pixels in raster order: every conditional evaluated in one forward pass."""

    def check_data(self, model: PixelCNN, info: dict[str, Any]) -> None:
        levels = info.get("levels")
        if levels is not None and levels > model.levels:
            fix = "set generate.binarize (e.g. 0.5)" if model.levels == 2 else "quantize the images"
            raise DataError(f"pixelcnn with model.levels: {model.levels} cannot model these images: they have "
                            f"{levels} grey levels ({fix}, or use model.levels: 256)")

    def loss(self, model: PixelCNN, x: torch.Tensor) -> tuple[torch.Tensor, Logs]:
        return pixelcnn_nll(model, self.rec.target(x)).mean(), {}

    def evaluator(self) -> PixelCNNEvaluator:
        return PixelCNNEvaluator(self)

    def per_image(self, model: PixelCNN, x: torch.Tensor) -> dict[str, torch.Tensor]:
        nll = pixelcnn_nll(model, self.rec.target(x))
        return {"loss": nll, "bpd": nll / (x[0].numel() * math.log(2))}
