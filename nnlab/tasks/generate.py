"""Image generation and reconstruction: the model's target is its own input (notes: unsupervised learning).

This first form trains autoencoders (plain or denoising) with a Bernoulli (binarized data) or L2
reconstruction loss; the generative issue grows it with the VAE, GAN (two optimizers) and PixelCNN.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nnlab.config import Config
from nnlab.data import Preprocess, TensorLoader
from nnlab.data.dataset import ImageDataset
from nnlab.engine.trainer import Logs
from nnlab.models import transfer
from nnlab.models.generative import GENERATIVE
from nnlab.tasks.base import TASKS, Indices, Task, TaskData
from nnlab.tasks.classify import image_loader, load_classification_data


def binarize(data: TaskData, threshold: float) -> TaskData:
    """Pixels above ``threshold`` (a fraction of 255) become 255, the rest 0: Bernoulli data."""
    cut = threshold * 255
    splits = {k: ImageDataset((d.images > cut).to(torch.uint8) * 255, d.labels, d.classes)
              for k, d in data.splits.items()}
    return TaskData(splits, data.info)


class Reconstruction:
    """Pixel-space targets and the reconstruction loss of a run's preprocessing."""

    def __init__(self, pre: Preprocess, bernoulli: bool) -> None:
        self.mean = torch.tensor(pre.mean).view(1, -1, 1, 1)
        self.std = torch.tensor(pre.std).view(1, -1, 1, 1)
        self.bernoulli = bernoulli

    def target(self, x: torch.Tensor) -> torch.Tensor:
        """The normalized input back in [0, 1] pixel units (B, C, H, W)."""
        return (x.float() * self.std.to(x.device) + self.mean.to(x.device)).clamp(0, 1)

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean per pixel: binary cross-entropy on logits (Bernoulli data) or squared error after a sigmoid."""
        logits = logits.float()
        if self.bernoulli:
            return F.binary_cross_entropy_with_logits(logits, target)
        return F.mse_loss(torch.sigmoid(logits), target)


class GenerateEvaluator:
    """Reconstruction loss, pixel MSE and PSNR over a split, plus the first images for a grid."""

    def __init__(self, rec: Reconstruction, keep: int) -> None:
        self.rec, self.keep = rec, keep
        self.loss = self.sq = None  # type: Any
        self.count = 0
        self.psnr = None  # type: Any
        self.shown: list[torch.Tensor] = []

    def update(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        x, _ = batch
        target = self.rec.target(x)
        logits = model(x)
        recon = torch.sigmoid(logits.float())
        n = len(x)
        mse = (recon - target).pow(2).flatten(1).mean(1)  # (B,)
        terms = (self.rec.loss(logits, target).double() * n, mse.double().sum(),
                 (10 * torch.log10(1 / mse.clamp_min(1e-10))).double().sum())
        if self.loss is None:
            self.loss, self.sq, self.psnr = terms
        else:
            self.loss, self.sq, self.psnr = (a + b for a, b in zip((self.loss, self.sq, self.psnr), terms))
        self.count += n
        if len(self.shown) < self.keep:
            take = self.keep - len(self.shown)
            self.shown += list(torch.stack([target[:take], recon[:take]], 1).cpu())  # (2, C, H, W) each

    def compute(self) -> dict[str, float]:
        n = max(self.count, 1)
        if self.loss is None:
            return {"loss": float("nan"), "mse": float("nan"), "psnr": float("nan")}
        return {"loss": float(self.loss) / n, "mse": float(self.sq) / n, "psnr": float(self.psnr) / n}


@TASKS.register("generate")
class Generate(Task):
    """Reconstruct (and later generate) images; labels, if the dataset has any, are ignored."""

    name = "generate"
    models = GENERATIVE
    data_args = ("in_chans", "input_size")
    monitor, mode = "val_loss", "min"

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.rec: Reconstruction | None = None

    def load_data(self, progress: bool = True, train_indices: Indices = None, val_indices: Indices = None) -> TaskData:
        data = load_classification_data(self.cfg, progress, train_indices, val_indices)
        threshold = self.cfg.generate.binarize
        if threshold is None:
            return data
        data = binarize(data, threshold)
        pre = Preprocess.fit(data.splits["train"].images, self.cfg.data.resize_mode, self.cfg.data.normalize)
        return TaskData(data.splits, {**data.info, "preprocess": pre.to_dict()})

    def build_model(self, info: dict[str, Any]) -> nn.Module:
        pre = Preprocess(**info["preprocess"])
        return GENERATIVE.build(self.cfg.model.name, in_chans=pre.channels, input_size=(pre.height, pre.width),
                                **transfer.builder_options(self.cfg.model.args))

    def setup(self, model: nn.Module, info: dict[str, Any]) -> None:
        self.rec = Reconstruction(Preprocess(**info["preprocess"]), self.cfg.generate.binarize is not None)

    def loader(self, data: TaskData, split: str, train: bool = False) -> TensorLoader:
        return image_loader(self.cfg, data, split, train)

    def training_step(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, Logs]:
        x, _ = batch
        target = self.rec.target(x)
        std = self.cfg.generate.noise_std
        if std > 0:  # denoising: corrupt the input in pixel units, reconstruct the clean image
            x = x + torch.randn_like(x) * std / self.rec.std.to(x.device)  # global RNG: saved for resume
        return self.rec.loss(model(x), target), {}

    def evaluator(self) -> GenerateEvaluator:
        return GenerateEvaluator(self.rec, self.cfg.generate.samples)

    def report(self, evaluator: GenerateEvaluator, info: dict[str, Any], out_dir: Path, split: str,
               title: str) -> dict[str, Any]:
        """A grid of originals (left) and reconstructions (right)."""
        from nnlab.plots import image_grid_png

        pairs = [img for pair in evaluator.shown for img in pair]
        path = image_grid_png(pairs, out_dir / f"reconstructions_{split}.png", cols=8, title=title)
        return {"count": evaluator.count, "reconstructions_png": str(path)}

    def predict(self, model: nn.Module, info: dict[str, Any], paths: Sequence[str | Path],
                device: torch.device, out: str | Path | None = None) -> list[dict[str, Any]]:
        """Reconstruction error of each image file; with ``out``, a PNG of each original beside its
        reconstruction."""
        pre = Preprocess(**info["preprocess"])
        rec = Reconstruction(pre, self.cfg.generate.binarize is not None)
        x = pre.load_files(list(paths)).to(device)
        with torch.inference_mode():
            recon = torch.sigmoid(model(x).float()).cpu()
        target = rec.target(x.cpu())
        mse = (recon - target).pow(2).flatten(1).mean(1)
        results = [{"image": str(p), "mse": float(e)} for p, e in zip(paths, mse)]
        if out is not None:
            from nnlab.plots import image_grid_png

            for r, t, y in zip(results, target, recon):
                r["png"] = str(image_grid_png([t, y], Path(out) / f"{Path(r['image']).stem}_reconstruction.png",
                                              cols=2))
        return results
