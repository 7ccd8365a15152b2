"""fit on chosen samples of the training split, and the on_epoch hook."""
import numpy as np
import pytest
import torch

import nnlab
from nnlab.api import RunDir, build_data
from nnlab.config import from_dict
from nnlab.data.splits import load_subset
from nnlab.errors import DataError


@pytest.fixture
def cfg(digits_config):
    torch.set_num_threads(1)
    return {**digits_config, "train": {**digits_config["train"], "epochs": 3}}


def test_train_and_val_indices_pick_samples_and_travel_with_the_run(cfg, tmp_path):
    full, _ = build_data(from_dict(cfg), progress=False)
    tr, va = np.array([0, 0, 1, 2, 3] * 20), np.arange(100, 150)
    run = nnlab.fit(cfg, runs_root=tmp_path, progress=False, train_indices=tr, val_indices=va)
    saved_tr, saved_va = load_subset(RunDir(run.dir).subset)
    assert saved_tr.tolist() == tr.tolist() and saved_va.tolist() == va.tolist()
    ev = nnlab.evaluate(run.dir, "val")  # the run's own validation samples, not the config's val split
    assert ev["count"] == 50
    assert ev["confusion"] and sum(map(sum, ev["confusion"])) == 50
    assert torch.equal(torch.tensor([full["train"].labels[i] for i in va]).bincount(minlength=10),
                       torch.tensor([sum(row) for row in ev["confusion"]]))


def test_out_of_range_indices_are_a_clear_error(cfg, tmp_path):
    with pytest.raises(DataError, match="train_indices must lie in"):
        nnlab.fit(cfg, runs_root=tmp_path, progress=False, train_indices=[0, 10**6])


def test_on_epoch_sees_metrics_and_can_stop_training(cfg, tmp_path):
    seen = []

    def hook(epoch, metrics):
        seen.append((epoch, metrics["val_acc"]))
        return "enough" if epoch == 2 else None

    run = nnlab.fit(cfg, runs_root=tmp_path, progress=False, on_epoch=hook)
    assert [e for e, _ in seen] == [1, 2]
    assert run.meta["status"] == "stopped_early" and run.meta["message"] == "enough"
    assert run.meta["epochs_done"] == 2


def test_split_seed_fixes_the_test_split_while_seed_varies(cfg):
    a, _ = build_data(from_dict({**cfg, "seed": 1, "data": {"dataset": "digits", "split_seed": 7}}), progress=False)
    b, _ = build_data(from_dict({**cfg, "seed": 2, "data": {"dataset": "digits", "split_seed": 7}}), progress=False)
    c, _ = build_data(from_dict({**cfg, "seed": 2, "data": {"dataset": "digits"}}), progress=False)
    assert torch.equal(a["test"].images, b["test"].images)
    assert not torch.equal(b["test"].images, c["test"].images)
