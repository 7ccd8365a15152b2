"""Every registered task, with a tiny model on tiny data: fit two epochs, stop mid-epoch (Ctrl-C) and resume to
bit-identical weights, ``nnlab eval`` reproduces the saved test metrics, predict, export where supported.

A task added later gets these tests by adding its tiny config to ``TINY``."""
from __future__ import annotations

import itertools
import signal
from pathlib import Path

import pytest
import torch

import nnlab
from nnlab.engine import checkpoint
from nnlab.engine.runs import RunDir
from nnlab.errors import TrainingStopped, UserError
from nnlab.tasks import TASKS

_DATA = {"dataset": "digits", "train_size": 256}
_TRAIN = {"epochs": 2, "batch_size": 64}
TINY = {
    "classify": {"task": "classify", "data": _DATA, "model": {"name": "mlp", "hidden": [16]},
                 "optim": {"name": "adam", "lr": 0.01}, "train": _TRAIN},
    "detect": {"task": "detect", "data": {"dataset": "scenes", "image_size": [48, 48], "val_fraction": 0.1},
               "detect": {"scenes": {"n": 36, "n_test": 8, "digits": [1, 2], "scale": [1.0, 1.5]}},
               "model": {"name": "yolo", "width": 4, "neck_width": 8}, "optim": {"name": "adam", "lr": 0.01},
               "train": {"epochs": 2, "batch_size": 8}},
    "generate": {"task": "generate", "data": _DATA, "model": {"name": "autoencoder", "hidden": [16], "latent": 4},
                 "optim": {"name": "adam", "lr": 0.01}, "train": _TRAIN, "generate": {"noise_std": 0.1}},
    "sequence": {"task": "sequence", "data": {"dataset": "sums"},
                 "sequence": {"window": 16, "generated_chars": 600, "val_fraction": 0.1, "test_fraction": 0.1},
                 "model": {"name": "lstm", "hidden": 16, "embed": 8}, "optim": {"name": "adam", "lr": 0.01},
                 "train": {"epochs": 2, "batch_size": 8, "clip_norm": 1.0}},
}


def test_every_task_has_a_tiny_config():
    assert sorted(TINY) == TASKS.names()


def _config(name: str, tmp: Path) -> dict:
    return {"name": name, "seed": 0, **TINY[name]}


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return checkpoint.load(RunDir(run_dir).last)["model"]


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, task: str, batches: int) -> None:
    """Press Ctrl-C (SIGINT to this process) during the given training batch of the task."""
    cls = TASKS.get(task)
    method = "manual_step" if cls.manual_optimization else "training_step"
    original, calls = getattr(cls, method), itertools.count(1)

    def step(self, *args):
        if next(calls) == batches:
            signal.raise_signal(signal.SIGINT)
        return original(self, *args)

    monkeypatch.setattr(cls, method, step)


@pytest.mark.parametrize("task", sorted(TINY))
def test_fit_interrupt_resume_eval_predict(task, tmp_path, monkeypatch):
    cfg = _config(task, tmp_path)
    full = nnlab.fit(cfg, runs_root=tmp_path / "full", progress=False)
    assert full.meta["task"] == task and full.meta["status"] == "completed" and full.meta["epochs_done"] == 2

    _interrupt_after(monkeypatch, task, 5)  # epoch 2 of 4 batches each, mid-epoch
    with pytest.raises(TrainingStopped) as stop:
        nnlab.fit(cfg, runs_root=tmp_path / "part", progress=False)
    assert stop.value.exit_code == 130
    monkeypatch.undo()
    (part,) = (tmp_path / "part" / task).iterdir()
    assert nnlab.load_run(part, "last").meta["status"] == "interrupted"
    nnlab.fit(None, resume=part, runs_root=tmp_path / "part", progress=False)
    wa, wb = _weights(full.dir), _weights(part)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)

    report = nnlab.evaluate(full.dir, "test")
    assert report["task"] == task
    for key, value in full.test.items():
        assert report[key] == value, key  # the same loop, weights and data: the same numbers

    loaded = nnlab.load_run(full.dir)
    example = loaded.task.example_input(loaded.meta, tmp_path)  # an image, a text prompt ... as the task reads
    (result,) = nnlab.predict(full.dir, [example])
    assert str(example) in result.values() and len(result) > 1

    if TASKS.get(task).exportable:
        exported = nnlab.export(full.dir, "onnx", out=tmp_path / "model.onnx")
        assert Path(exported.path).is_file()
    else:
        with pytest.raises(UserError, match="export"):
            nnlab.export(full.dir, "onnx", out=tmp_path / "model.onnx")


@pytest.mark.parametrize("task", sorted(TINY))
def test_meta_records_the_task_and_what_rebuilds_the_model(task, tmp_path):
    run = nnlab.fit({**_config(task, tmp_path), "train": {**_TRAIN, "epochs": 1}}, runs_root=tmp_path,
                    progress=False)
    loaded = nnlab.load_run(run.dir)
    assert loaded.meta["task"] == task and run.dir.parent.name == task
    assert loaded.meta["monitor"] == TASKS.get(task).monitor and loaded.meta["mode"] == TASKS.get(task).mode
    assert not loaded.model.training
