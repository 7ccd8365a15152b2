"""Optimizers, parameter groups and schedules wired through nnlab.fit (digits MLP, a few epochs)."""
import csv

import pytest
import torch

import nnlab
from nnlab import api
from nnlab.engine import checkpoint
from nnlab.errors import UserError


def _weights(run):
    return checkpoint.load(run.dir / "checkpoints" / "last.pt")["model"]


def test_lr_mult_zero_leaves_parameters_bit_identical(digits_config, tmp_path):
    digits_config["optim"].update(name="adam", lr=0.01, weight_decay=1e-3, lr_mult={"features": 0})
    run = nnlab.fit(digits_config, runs_root=tmp_path, progress=False)
    api._seed_everything(run.config.seed)  # the initial weights, built as fit builds them
    task = api.build_task(run.config)
    w0 = task.build_model(task.load_data(progress=False).info).state_dict()
    w = _weights(run)
    assert all(torch.equal(w[k], w0[k]) for k in ("features.0.weight", "features.0.bias"))
    assert not torch.equal(w["head.weight"], w0["head.weight"])


def test_schedule_lr_in_metrics_and_resume_continues_exactly(digits_config, tmp_path):
    digits_config["optim"].update(name="momentum", lr=0.05,
                                  schedule={"name": "warmup_cosine", "per_step": True, "warmup": 5})
    digits_config["train"].update(epochs=4, checkpoint={"keep_last": 4})
    full = nnlab.fit(digits_config, runs_root=tmp_path, progress=False)
    rows = list(csv.DictReader((full.dir / "metrics.csv").open()))
    lrs = [float(r["lr"]) for r in rows]
    assert lrs[0] < 0.05 and lrs == sorted(lrs, reverse=True)
    part = nnlab.fit(digits_config, runs_root=tmp_path, progress=False,
                     on_epoch=lambda epoch, metrics: "stopped" if epoch == 2 else None)
    assert part.meta["epochs_done"] == 2
    resumed = nnlab.fit(None, resume=part.dir, runs_root=tmp_path, progress=False)
    assert resumed.meta["epochs_done"] == 4
    wa, wb = _weights(full), _weights(resumed)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert [float(r["lr"]) for r in csv.DictReader((part.dir / "metrics.csv").open())] == lrs


def test_plateau_and_clipping_run(digits_config, tmp_path):
    digits_config["optim"]["schedule"] = {"name": "plateau", "patience": 1, "factor": 0.5}
    digits_config["train"].update(epochs=2, clip_norm=1.0, clip_value=0.5)
    run = nnlab.fit(digits_config, runs_root=tmp_path, progress=False)
    assert run.meta["status"] == "completed"


@pytest.mark.parametrize("section, value, match", [
    ("optim", {"name": "adamm"}, "Valid names: adadelta"),
    ("optim", {"name": "sgd", "betas": [0.9, 0.99]}, "does not take option 'optim.betas'"),
    ("optim", {"name": "sgd", "lr": 0}, "'optim.lr' must be positive"),
    ("optim", {"name": "sgd", "schedule": {"name": "cos"}}, "Valid names: fixed"),
    ("optim", {"name": "sgd", "schedule": {"name": "warmup_cosine", "warmup": 3}}, "shorter than the run"),
    ("optim", {"name": "sgd", "lr_mult": {"body": 0.1}}, "names no module"),
    ("train", {"epochs": 2, "clip_norm": 0}, "train.clip_norm"),
])
def test_bad_input_fails_before_any_run(digits_config, tmp_path, section, value, match):
    digits_config[section] = value
    with pytest.raises(UserError, match=match):
        nnlab.fit(digits_config, runs_root=tmp_path, progress=False)
    assert not any(tmp_path.rglob("config.yaml"))
