"""Every registered task, with a tiny model on tiny data: fit two epochs, stop mid-epoch (Ctrl-C) and resume to
bit-identical weights, ``nnlab eval`` reproduces the saved test metrics, predict, export where supported.

A task added later gets these tests by adding its tiny config to ``TINY`` (keyed by the task's name; a task with
several kinds of training adds more entries keyed ``<task>-<variant>``, e.g. the GAN's two optimizers)."""
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
    "classify-ema": {"task": "classify", "data": _DATA, "model": {"name": "mlp", "hidden": [16]},
                     "optim": {"name": "adam", "lr": 0.01}, "train": {**_TRAIN, "ema": {"decay": 0.9, "warmup": 2}}},
    "generate": {"task": "generate", "data": _DATA, "model": {"name": "autoencoder", "hidden": [16], "latent": 4},
                 "optim": {"name": "adam", "lr": 0.01}, "train": _TRAIN, "generate": {"noise_std": 0.1}},
    "generate-vae": {"task": "generate", "data": _DATA, "model": {"name": "vae", "hidden": [16], "latent": 4},
                     "optim": {"name": "adam", "lr": 0.01}, "train": _TRAIN,
                     "generate": {"binarize": 0.5, "iw_samples": 5, "iw_images": 40}},
    "generate-pixelcnn": {"task": "generate", "data": _DATA, "model": {"name": "pixelcnn", "channels": 8,
                                                                       "blocks": 1},
                          "optim": {"name": "adam", "lr": 0.01}, "train": _TRAIN, "generate": {"binarize": 0.5}},
    "generate-gan": {"task": "generate", "data": _DATA, "model": {"name": "dcgan", "latent": 8, "width": 8},
                     "optim": {"name": "adam", "lr": 0.002}, "train": _TRAIN},
    "rl": {"task": "rl", "model": {"name": "qmlp", "hidden": [16]}, "optim": {"name": "adam", "lr": 0.01},
           "train": {"epochs": 2, "batch_size": 8},
           "rl": {"env": "CartPole-v1", "steps_per_epoch": 8, "train_frequency": 2, "learning_starts": 16,
                  "buffer_size": 64, "target_update": 3, "eval_episodes": 2, "test_episodes": 2,
                  "max_episode_steps": 30}},
    "segment": {"task": "segment", "data": {"dataset": "shapes", "image_size": [16, 16]},  # 32 train images
                "segment": {"shapes": 46, "loss": "cross_entropy+dice"},
                "augment": {"hflip": 0.5, "rotate": 10.0},
                "model": {"name": "unet", "depth": 1, "width": 4}, "optim": {"name": "adam", "lr": 0.01},
                "train": {**_TRAIN, "batch_size": 8}},
    "sequence": {"task": "sequence", "data": {"dataset": "sums"},
                 "sequence": {"window": 16, "generated_chars": 600, "val_fraction": 0.1, "test_fraction": 0.1},
                 "model": {"name": "lstm", "hidden": 16, "embed": 8}, "optim": {"name": "adam", "lr": 0.01},
                 "train": {"epochs": 2, "batch_size": 8, "clip_norm": 1.0}},
    "sequence-caption": {"task": "sequence", "data": {"dataset": "scenes", "image_size": [32, 32],
                                                      "val_fraction": 0.2},
                         "sequence": {"mode": "caption", "beam": 1, "scenes": {"n": 20, "n_test": 4}},
                         "model": {"name": "captioner", "hidden": 16, "embed": 8},
                         "optim": {"name": "adam", "lr": 0.01}, "train": {"epochs": 2, "batch_size": 4}},
}


def test_every_task_has_a_tiny_config():
    assert {cfg["task"] for cfg in TINY.values()} == set(TASKS.names())
    assert all(key.split("-")[0] == cfg["task"] for key, cfg in TINY.items())  # variants are named by task
    assert set(TASKS.names()) <= set(TINY)  # each task's plain entry exists


def _config(name: str, tmp: Path) -> dict:
    return {"name": name, "seed": 0, **TINY[name]}


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    """The model's weights and, when the run keeps one, its moving average's."""
    ckpt = checkpoint.load(RunDir(run_dir).last)
    ema = {f"ema.{k}": v for k, v in ckpt["ema"]["model"].items()} if ckpt.get("ema") else {}
    return {**ckpt["model"], **ema}


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, task: str, batches: int) -> None:
    """Press Ctrl-C (SIGINT to this process) during the given training batch of the task (whichever of
    ``training_step`` / ``manual_step`` the configured model trains with)."""
    cls, calls = TASKS.get(task), itertools.count(1)

    def patch(method: str) -> None:
        original = getattr(cls, method)

        def step(self, *args):
            if next(calls) == batches:
                signal.raise_signal(signal.SIGINT)
            return original(self, *args)

        monkeypatch.setattr(cls, method, step)

    patch("manual_step")
    patch("training_step")


@pytest.mark.parametrize("key", sorted(TINY))
def test_fit_interrupt_resume_eval_predict(key, tmp_path, monkeypatch):
    cfg, task = _config(key, tmp_path), TINY[key]["task"]
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
    if TASKS.get(task).takes_files:
        (result,) = nnlab.predict(full.dir, [example])
        assert str(example) in result.values() and len(result) > 1
    else:  # a task that reads no files (rl acts in its environment) says so, with what to run instead
        with pytest.raises(UserError, match="nnlab "):
            nnlab.predict(full.dir, [example])

    if TASKS.get(task).exportable:
        exported = nnlab.export(full.dir, "onnx", out=tmp_path / "model.onnx")
        assert Path(exported.path).is_file()
    else:
        with pytest.raises(UserError, match="export"):
            nnlab.export(full.dir, "onnx", out=tmp_path / "model.onnx")


@pytest.mark.parametrize("key", sorted(TINY))
def test_meta_records_the_task_and_what_rebuilds_the_model(key, tmp_path):
    task = TINY[key]["task"]
    run = nnlab.fit({**_config(key, tmp_path), "train": {**_TRAIN, "epochs": 1}}, runs_root=tmp_path,
                    progress=False)
    loaded = nnlab.load_run(run.dir)
    assert loaded.meta["task"] == task and run.dir.parent.name == task
    assert loaded.meta["monitor"] == TASKS.get(task).monitor and loaded.meta["mode"] == TASKS.get(task).mode
    assert not loaded.model.training
