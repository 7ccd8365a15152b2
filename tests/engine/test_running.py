"""``--extend``'s loading: the saved weights and optimizer moments, this run's hyper-parameters."""
from __future__ import annotations

import torch
from torch import nn

from nnlab.engine import checkpoint
from nnlab.engine.running import load_for_extend
from nnlab.engine.runs import RunDir


def test_load_for_extend_takes_weights_and_moments_but_keeps_the_new_lr(tmp_path, capsys):
    torch.manual_seed(0)
    old = nn.Linear(3, 2)
    opt = torch.optim.Adam(old.parameters(), lr=0.1)
    old(torch.randn(4, 3)).sum().backward()
    opt.step()
    run = RunDir(tmp_path)
    run.last.parent.mkdir(parents=True, exist_ok=True)
    checkpoint.save({"model": old.state_dict(), "optimizers": {"main": opt.state_dict()},
                     "optimizer_classes": {"main": "Adam"}}, run.last)
    new = nn.Linear(3, 2)
    new_opt = torch.optim.Adam(new.parameters(), lr=0.01)
    load_for_extend(new, {"main": new_opt}, tmp_path)
    assert torch.equal(new.weight, old.weight) and new_opt.param_groups[0]["lr"] == 0.01
    assert torch.equal(new_opt.state[new.weight]["exp_avg"], opt.state[old.weight]["exp_avg"])
    sgd = torch.optim.SGD(new.parameters(), lr=0.5)  # another optimizer: fresh state, said so
    load_for_extend(new, {"main": sgd}, tmp_path)
    assert not sgd.state and "optimizer changed" in capsys.readouterr().err
