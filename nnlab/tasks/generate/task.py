"""Image generation and reconstruction: the model's target is its own input (notes: unsupervised learning).

The task owns the data (grey or binarized images; labels, if any, are ignored) and the run plumbing; each
model family's loss, metrics and samples live in its ``Objective``: autoencoders (``autoencoding``), the VAE
(``variational``), PixelCNN (``autoregressive``) and the GAN (``adversarial``, two optimizers stepped by the
task itself).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from nnlab.config import Config
from nnlab.data import Preprocess, TensorLoader
from nnlab.engine.callbacks import Callback
from nnlab.engine.runs import RunDir
from nnlab.engine.trainer import Evaluator, Logs, StepFn
from nnlab.errors import ConfigError, UserError
from nnlab.models import transfer
from nnlab.models.generative import GENERATIVE
from nnlab.tasks.base import TASKS, Indices, Task, TaskData
from nnlab.tasks.classify import image_loader, load_classification_data
from nnlab.tasks.generate.adversarial import Adversarial
from nnlab.tasks.generate.autoencoding import Autoencoding
from nnlab.tasks.generate.autoregressive import Autoregressive
from nnlab.tasks.generate.common import Objective, Reconstruction, binarize
from nnlab.tasks.generate.samples import SampleGrid
from nnlab.tasks.generate.variational import Variational

OBJECTIVES: dict[str, type[Objective]] = {"autoencoder": Autoencoding, "vae": Variational,
                                          "pixelcnn": Autoregressive, "pixelrnn": Autoregressive,
                                          "dcgan": Adversarial}


@TASKS.register("generate")
class Generate(Task):
    """Reconstruct, model the density of, or generate images."""

    name = "generate"
    models = GENERATIVE
    data_args = ("in_chans", "input_size")
    monitor, mode = "val_loss", "min"
    trains_through_forward = False  # ELBO terms, a GAN's two halves: gradients averaged after backward

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.family = OBJECTIVES.get(cfg.model.name, Autoencoding)
        self.manual_optimization = self.family.manual  # the GAN steps its own two optimizers
        self.objective: Objective | None = None

    def validate(self) -> None:
        if self.family.manual and self.cfg.train.accumulate != 1:
            raise ConfigError("train.accumulate must be 1 for a GAN (each batch steps both players)")
        g = self.cfg.generate
        if g.gan_loss == "wgan-gp" and self.cfg.model.args.get("d_norm", "batch") == "batch":
            raise ConfigError("generate.gan_loss: wgan-gp penalizes per-sample gradients; set model.d_norm: none")

    def load_data(self, progress: bool = True, train_indices: Indices = None, val_indices: Indices = None) -> TaskData:
        data = load_classification_data(self.cfg, progress, train_indices, val_indices)
        threshold = self.cfg.generate.binarize
        if threshold is not None:
            data = binarize(data, threshold)
            pre = Preprocess.fit(data.splits["train"].images, self.cfg.data.resize_mode, self.cfg.data.normalize)
            data = TaskData(data.splits, {**data.info, "preprocess": pre.to_dict()})
        levels = int(data.splits["train"].images.unique().numel())  # grey levels present (PixelCNN checks)
        return TaskData(data.splits, {**data.info, "levels": levels})

    def build_model(self, info: dict[str, Any]) -> nn.Module:
        pre = Preprocess(**info["preprocess"])
        model = GENERATIVE.build(self.cfg.model.name, in_chans=pre.channels, input_size=(pre.height, pre.width),
                                 **transfer.builder_options(self.cfg.model.args))
        self.family(self.cfg.generate, self._reconstruction(info)).check_data(model, info)
        return model

    def _reconstruction(self, info: dict[str, Any]) -> Reconstruction:
        return Reconstruction(Preprocess(**info["preprocess"]), self.cfg.generate.binarize is not None)

    def setup(self, model: nn.Module, info: dict[str, Any]) -> None:
        self.objective = self.family(self.cfg.generate, self._reconstruction(info))

    def loader(self, data: TaskData, split: str, train: bool = False) -> TensorLoader:
        return image_loader(self.cfg, data, split, train)

    def optimizer_modules(self, model: nn.Module) -> dict[str, nn.Module]:
        if self.family.manual:
            return {"d": model.discriminator, "g": model.generator}
        return {"main": model}

    def callbacks(self, run: RunDir) -> list[Callback]:
        """Models that sample (VAE, GAN, PixelCNN) write a grid after each epoch (``generate.epoch_samples``)."""
        if not (self.family.can_sample and self.cfg.generate.epoch_samples):
            return []
        return [SampleGrid(run, self.draw, self.cfg.generate.samples, self.cfg.seed)]

    def training_step(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, Logs]:
        return self.objective.loss(model, batch[0])

    def manual_step(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor],
                    step: StepFn) -> tuple[torch.Tensor, Logs]:
        return self.objective.manual_step(model, batch[0], step)

    def evaluator(self) -> Evaluator:
        return self.objective.evaluator()

    def report(self, evaluator: Any, info: dict[str, Any], out_dir: Path, split: str,
               title: str) -> dict[str, Any]:
        """Originals beside reconstructions (autoencoders, VAE) and a grid of samples (VAE, GAN, PixelCNN)."""
        return self.objective.report(evaluator, out_dir, split, title)

    def draw(self, model: nn.Module, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n new images (n, C, H, W) in [0, 1]."""
        if n < 1:
            raise UserError(f"--n must be at least 1 (got {n})")
        return self.objective.sample(model, n, generator)

    def predict(self, model: nn.Module, info: dict[str, Any], paths: Sequence[str | Path],
                device: torch.device, out: str | Path | None = None) -> list[dict[str, Any]]:
        """Per image: reconstruction error (autoencoder), negative ELBO (VAE), NLL (PixelCNN) or the
        discriminator's belief it is real (GAN); with ``out``, a PNG of each original beside its reconstruction."""
        pre = Preprocess(**info["preprocess"])
        x = pre.load_files(list(paths)).to(device)
        with torch.inference_mode():
            values = {k: v.cpu() for k, v in self.objective.per_image(model, x).items()}
        recon = values.pop("reconstruction", None)
        results = [{"image": str(p), **{k: float(v[i]) for k, v in values.items()}} for i, p in enumerate(paths)]
        if out is not None and recon is not None:
            from nnlab.plots import image_grid_png

            target = self.objective.rec.target(x.cpu())
            for r, t, y in zip(results, target, recon):
                r["png"] = str(image_grid_png([t, y], Path(out) / f"{Path(r['image']).stem}_reconstruction.png",
                                              cols=2))
        return results
