"""Per-epoch sample grids of a generative run (``samples/epoch_NNN.png``): how the samples improve over
training, which the workbench's job page shows as a strip and a slider."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import torch
from torch import nn

from nnlab.engine.callbacks import Callback
from nnlab.engine.runs import RunDir

if TYPE_CHECKING:
    from nnlab.engine.trainer import Trainer

Draw = Callable[[nn.Module, int, torch.Generator], torch.Tensor]  # (model, n, generator) -> (n, C, H, W) in [0, 1]


class SampleGrid(Callback):
    """After every epoch, ``n`` samples from the same seed (the same latent codes each epoch, so the grids
    compare) written through ``RunDir.sample_grid``. The global random state is untouched (sampling forks it and
    uses its own generator), so runs stay exactly resumable; the model's train / eval mode is restored."""

    def __init__(self, run: RunDir, draw: Draw, n: int = 16, seed: int = 0, cols: int = 8) -> None:
        self.run, self.draw, self.n, self.seed, self.cols = run, draw, n, seed, cols

    def on_epoch_end(self, trainer: "Trainer", metrics: dict[str, float]) -> None:
        from nnlab.plots import image_grid_png

        model, epoch = trainer.model, trainer.state.epoch
        device = next(model.parameters()).device
        was_training = model.training
        devices = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            model.eval()
            try:
                images = self.draw(model, self.n, torch.Generator(device=device).manual_seed(self.seed)).float().cpu()
            finally:
                model.train(was_training)
        image_grid_png(list(images.clamp(0, 1)), self.run.sample_grid(epoch), cols=self.cols,
                       title=f"{self.run.path.name} · epoch {epoch}")
