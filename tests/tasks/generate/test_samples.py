"""The generate task's per-epoch sample grids: written through RunDir, same seed each epoch, global RNG untouched."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from PIL import Image
from torch import nn

import nnlab
from nnlab.engine.runs import RunDir
from nnlab.tasks.generate.samples import SampleGrid

_BASE = {"task": "generate", "seed": 0, "data": {"dataset": "digits", "train_size": 128},
         "optim": {"name": "adam", "lr": 0.01}, "train": {"epochs": 2, "batch_size": 64}}
VAE = {**_BASE, "name": "vae", "model": {"name": "vae", "hidden": [16], "latent": 4},
       "generate": {"binarize": 0.5, "iw_samples": 0, "samples": 4}}


@pytest.mark.slow
def test_a_vae_run_writes_one_grid_per_epoch(tmp_path):
    run = nnlab.fit(VAE, runs_root=tmp_path, progress=False)
    grids = RunDir(run.dir).sample_grids()
    assert [p.name for p in grids] == ["epoch_001.png", "epoch_002.png"]
    assert grids[0] == RunDir(run.dir).sample_grid(1) and Image.open(grids[1]).size[0] > 50


def test_no_grids_for_an_autoencoder_or_when_switched_off(tmp_path):
    ae = {**_BASE, "name": "ae", "model": {"name": "autoencoder", "hidden": [16], "latent": 4}}
    off = {**VAE, "generate": {**VAE["generate"], "epoch_samples": False}}
    for cfg in (ae, off):
        run = nnlab.fit({**cfg, "train": {**_BASE["train"], "epochs": 1}}, runs_root=tmp_path, progress=False)
        assert RunDir(run.dir).sample_grids() == []


class _Noise(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))


def test_the_callback_draws_the_same_codes_each_epoch_and_leaves_the_rng_and_mode_alone(tmp_path):
    drawn = []

    def draw(model: nn.Module, n: int, generator: torch.Generator) -> torch.Tensor:
        assert not model.training
        images = torch.rand(n, 1, 4, 4, generator=generator)
        drawn.append(images)
        return images

    model = _Noise().train()
    grid = SampleGrid(RunDir(tmp_path), draw, n=3, seed=7)
    before = torch.get_rng_state()
    for epoch in (1, 2):
        trainer = SimpleNamespace(model=model, state=SimpleNamespace(epoch=epoch))
        grid.on_epoch_end(trainer, {})
    assert torch.equal(before, torch.get_rng_state()) and model.training
    assert torch.equal(drawn[0], drawn[1]) and RunDir(tmp_path).sample_grid(2).is_file()
