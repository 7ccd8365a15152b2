"""What every generative model family shares: binarized data, pixel-unit targets, and the ``Objective``
interface (the loss, metrics and samples of one model family) the ``generate`` task delegates to."""
from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from nnlab.config import GenerateConfig
from nnlab.data import Preprocess
from nnlab.data.dataset import ImageDataset
from nnlab.engine.trainer import Evaluator, Logs, StepFn
from nnlab.errors import UserError
from nnlab.tasks.base import TaskData

SEED = 0  # evaluators draw their noise from a generator seeded with this: eval reproduces the saved metrics


def binarize(data: TaskData, threshold: float) -> TaskData:
    """Pixels above ``threshold`` (a fraction of 255) become 255, the rest 0: Bernoulli data."""
    cut = threshold * 255
    splits = {k: ImageDataset((d.images > cut).to(torch.uint8) * 255, d.labels, d.classes)
              for k, d in data.splits.items()}
    return TaskData(splits, data.info)


def seeded(device: torch.device, seed: int = SEED) -> torch.Generator:
    """A generator on ``device`` with a fixed seed (evaluation noise that does not touch the global RNG)."""
    return torch.Generator(device=device).manual_seed(seed)


class Reconstruction:
    """Pixel-space targets and the reconstruction loss of a run's preprocessing."""

    def __init__(self, pre: Preprocess, bernoulli: bool) -> None:
        self.pre = pre
        self.std = torch.tensor(pre.std).view(1, -1, 1, 1)  # denoising scales its pixel-unit noise by it
        self.bernoulli = bernoulli

    def target(self, x: torch.Tensor) -> torch.Tensor:
        """The normalized input back in [0, 1] pixel units (B, C, H, W)."""
        return self.pre.pixels(x)

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean per pixel: binary cross-entropy on logits (Bernoulli data) or squared error after a sigmoid."""
        logits = logits.float()
        if self.bernoulli:
            return F.binary_cross_entropy_with_logits(logits, target)
        return F.mse_loss(torch.sigmoid(logits), target)


class Sums:
    """Running sums of per-image float64 values (kept on the device: no host sync per batch)."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, **values: torch.Tensor) -> None:
        """Per-image values (B,) by name."""
        for k, v in values.items():
            v = v.detach().double()
            self.sums[k] = self.sums[k] + v.sum() if k in self.sums else v.sum()
            self.counts[k] = self.counts.get(k, 0) + len(v)

    @property
    def count(self) -> int:
        """Images seen (the most any value was added for)."""
        return max(self.counts.values(), default=0)

    def means(self, *names: str) -> dict[str, float]:
        return {k: float(self.sums[k]) / self.counts[k] if k in self.sums else float("nan") for k in names}


class Objective(ABC):
    """The loss, metrics and samples of one model family. ``manual``: the family steps its own optimizers
    (``parts`` names the submodule each trains)."""

    manual: ClassVar[bool] = False
    parts: ClassVar[tuple[str, ...]] = ()
    can_sample: ClassVar[bool] = True

    def __init__(self, cfg: GenerateConfig, rec: Reconstruction) -> None:
        self.cfg, self.rec = cfg, rec

    def check_data(self, model: nn.Module, info: dict[str, Any]) -> None:
        """Refuse data the model cannot represent (before training)."""

    def loss(self, model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, Logs]:
        raise NotImplementedError

    def manual_step(self, model: nn.Module, x: torch.Tensor, step: StepFn) -> tuple[torch.Tensor, Logs]:
        raise NotImplementedError

    @abstractmethod
    def evaluator(self) -> Evaluator: ...

    @abstractmethod
    def per_image(self, model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """What ``predict`` reports for each input image (B,) by name."""

    def report(self, evaluator: Any, out_dir: Path, split: str, title: str) -> dict[str, Any]:
        """Figures for ``nnlab eval``: a grid of samples from the evaluated model."""
        from nnlab.plots import image_grid_png

        model = evaluator.model
        images = self.sample(model, self.cfg.samples, seeded(next(model.parameters()).device)).cpu()
        path = image_grid_png(list(images), out_dir / f"samples_{split}.png", cols=8, title=f"{title} · samples")
        return {"count": evaluator.sums.count, "samples_png": str(path)}

    def sample(self, model: nn.Module, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n new images (n, C, H, W) in [0, 1]."""
        return model.sample(n, generator)


def no_sampler(name: str) -> UserError:
    return UserError(f"a {name} has no prior to sample from (it only reconstructs); train a vae, dcgan, pixelcnn or "
                     f"pixelrnn to sample")
