import pytest
from torch import nn

from nnlab.errors import ConfigError
from nnlab.optim import build_optimizer, param_groups
from nnlab.optim.groups import no_decay_names


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4, 3), nn.LayerNorm(3))


def test_no_decay_for_biases_and_norm_parameters():
    net = _net()
    assert no_decay_names(net) == {"0.bias", "1.weight", "1.bias", "4.bias", "5.weight", "5.bias"}
    groups = param_groups(net, 0.1, 5e-4)
    by_wd = {g["weight_decay"]: g["names"] for g in groups}
    assert by_wd == {5e-4: ["0.weight", "4.weight"], 0.0: ["0.bias", "1.weight", "1.bias", "4.bias", "5.weight",
                                                            "5.bias"]}


def test_decay_everything_when_asked():
    groups = param_groups(_net(), 0.1, 5e-4, no_decay_bias_norm=False)
    assert len(groups) == 1 and groups[0]["weight_decay"] == 5e-4 and len(groups[0]["params"]) == 8


def test_lr_mult_longest_prefix_wins_and_zero_freezes():
    net = _net()
    opt = build_optimizer(net, "sgd", lr=0.1, lr_mult={"0": 0, "4": 0.1, "5": 2})
    lrs = {n: g["lr"] for g in opt.param_groups for n in g["names"]}
    assert lrs == pytest.approx({"1.weight": 0.1, "1.bias": 0.1, "4.weight": 0.01, "4.bias": 0.01,
                                 "5.weight": 0.2, "5.bias": 0.2})
    assert not net[0].weight.requires_grad and not net[0].bias.requires_grad


def test_lr_mult_of_a_nested_module():
    net = nn.Sequential(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)))
    groups = param_groups(net, 1.0, 0.0, lr_mult={"0": 0.5, "0.1": 3})
    assert {n: g["lr"] for g in groups for n in g["names"]} == {"0.0.weight": 0.5, "0.0.bias": 0.5,
                                                               "0.1.weight": 3.0, "0.1.bias": 3.0}


def test_lr_mult_bad_key_or_value():
    with pytest.raises(ConfigError, match="'optim.lr_mult.head' names no module"):
        param_groups(_net(), 0.1, 0.0, lr_mult={"head": 0})
    with pytest.raises(ConfigError, match="must be a number >= 0"):
        param_groups(_net(), 0.1, 0.0, lr_mult={"0": -1})
    with pytest.raises(ConfigError, match="no trainable parameters"):
        param_groups(nn.Sequential(nn.Linear(2, 2)), 0.1, 0.0, lr_mult={"0": 0})


def test_frozen_parameters_are_left_out():
    net = _net()
    net[4].weight.requires_grad_(False)
    names = [n for g in param_groups(net, 0.1, 0.0) for n in g["names"]]
    assert "4.weight" not in names and len(names) == 7
