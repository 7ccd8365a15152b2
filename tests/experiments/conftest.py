"""Experiments train many tiny models: one CPU thread each is fastest on a shared 2-core machine."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_config(tmp_path) -> dict:
    """Digits, a 16-unit MLP, one epoch: a run in well under a second."""
    return {"name": "t", "seed": 0, "data": {"dataset": "digits"}, "model": {"name": "mlp", "hidden": [16]},
            "optim": {"name": "sgd", "lr": 0.2}, "train": {"epochs": 1, "batch_size": 64,
                                                           "checkpoint": {"keep_last": 0}}}
