"""Every schedule's learning rate against its formula at chosen steps (t counts scheduler steps, T the run)."""
import math

import pytest
import torch

from nnlab.errors import ConfigError
from nnlab.optim import SCHEDULES, build_scheduler, lr_curve
from nnlab.optim.schedules import schedule_options

LR0, T = 0.1, 20


def _onecycle(t, pct=0.3, div=25.0, final_div=1e4):
    """torch's OneCycleLR (cos): up from LR0/div to LR0 until step pct*T - 1, down to LR0/(div*final_div) at T - 1."""
    lo, hi, end = LR0 / div, LR0, LR0 / div / final_div
    up_end = pct * T - 1

    def cos(a, b, frac):
        return b + (a - b) / 2 * (math.cos(math.pi * frac) + 1)

    if t <= up_end:
        return cos(lo, hi, t / up_end)
    return cos(hi, end, (t - up_end) / (T - 1 - up_end))


CASES = {
    "fixed": ({}, lambda t: LR0),
    "step": ({"stepsize": 3, "gamma": 0.5}, lambda t: LR0 * 0.5 ** (t // 3)),
    "multistep": ({"stepvalues": [2, 5, 11], "gamma": 0.1}, lambda t: LR0 * 0.1 ** sum(t >= s for s in (2, 5, 11))),
    "exp": ({"gamma": 0.9}, lambda t: LR0 * 0.9 ** t),
    "inv": ({"gamma": 0.1, "power": 0.75}, lambda t: LR0 * (1 + 0.1 * t) ** -0.75),
    "poly": ({"power": 2.0}, lambda t: LR0 * (1 - t / T) ** 2),
    "sigmoid": ({"gamma": -0.5, "stepsize": 8}, lambda t: LR0 / (1 + math.exp(0.5 * (t - 8)))),
    "cosine": ({"min_lr": 0.01}, lambda t: 0.01 + (LR0 - 0.01) * (1 + math.cos(math.pi * t / T)) / 2),
    "warmup_cosine": ({"warmup": 4, "min_lr": 0.001},
                      lambda t: LR0 * (t + 1) / 4 if t < 4 else
                      0.001 + (LR0 - 0.001) * 0.5 * (1 + math.cos(math.pi * (t - 4) / (T - 4)))),
    "onecycle": ({}, _onecycle),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_lr_sequence_matches_formula(name):
    params, formula = CASES[name]
    got = lr_curve(name, LR0, epochs=T, steps_per_epoch=1, **params)
    for t in (0, 1, 2, 3, 4, 5, 7, 10, 13, 19):
        assert got[t] == pytest.approx(formula(t), rel=1e-9, abs=1e-12), (name, t)


def test_every_schedule_is_tested_and_has_options():
    assert set(SCHEDULES) == set(CASES) | {"plateau"}
    assert schedule_options("step") == {"stepsize": None, "gamma": 0.1}


def test_plateau_reduces_after_patience_on_the_monitored_metric():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=LR0)
    sched = build_scheduler(opt, "plateau", total=T, mode="max", patience=1, factor=0.5)
    lrs = []
    for metric in [0.5, 0.6, 0.6, 0.6, 0.7, 0.7, 0.7]:
        sched.step(metric)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == pytest.approx([LR0, LR0, LR0, LR0 / 2, LR0 / 2, LR0 / 2, LR0 / 4])


def test_per_step_counts_optimizer_steps():
    per_step = lr_curve("step", LR0, epochs=2, steps_per_epoch=3, per_step=True, stepsize=2, gamma=0.5)
    per_epoch = lr_curve("step", LR0, epochs=2, steps_per_epoch=3, stepsize=1, gamma=0.5)
    assert per_step == pytest.approx([LR0, LR0, LR0 / 2, LR0 / 2, LR0 / 4, LR0 / 4])
    assert per_epoch == pytest.approx([LR0] * 3 + [LR0 / 2] * 3)


def test_schedule_keeps_group_lr_multipliers():
    a, b = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([{"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.01}], lr=0.1)
    sched = build_scheduler(opt, "warmup_cosine", total=10, warmup=2)
    opt.step()
    sched.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.1, 0.01])


def test_unknown_schedule_lists_valid_names():
    with pytest.raises(ConfigError, match="unknown schedule 'cosin'.*Did you mean 'cosine'.*Valid names: fixed, step"):
        lr_curve("cosin", LR0, 3, 1)


def test_bad_schedule_options():
    with pytest.raises(ConfigError, match="'exp' does not take option 'optim.schedule.stepsize'"):
        lr_curve("exp", LR0, 3, 1, stepsize=2)
    with pytest.raises(ConfigError, match="warmup.*shorter than the run"):
        lr_curve("warmup_cosine", LR0, 5, 1, warmup=5)
    with pytest.raises(ConfigError, match="per_step: false"):
        lr_curve("plateau", LR0, 5, 2, per_step=True)
    with pytest.raises(ConfigError, match="stepvalues"):
        lr_curve("multistep", LR0, 5, 1, stepvalues=[3, 2])
    with pytest.raises(ConfigError, match="schedule 'onecycle'"):
        lr_curve("onecycle", LR0, 5, 1, pct_start=1.5)
