"""The optimizer table against textbook update rules, on a convex quadratic, and its input checks.

Conventions (PyTorch's, which nnlab keeps): the momentum buffer holds the raw gradient sum v = mu*v + g and
the learning rate multiplies it in the update (w -= lr*v); the notes' v = a*v - lr*g; w += v is the same
sequence of weights for a constant lr (v_notes = -lr * v_torch). Nesterov uses w -= lr*(g + mu*v).
Adam's bias corrections divide m and v by (1 - beta^t), t counting from 1.
"""
import math

import pytest
import torch
from torch import nn

from nnlab.errors import ConfigError
from nnlab.optim import OPTIMIZERS, build_optimizer

GRADS = [torch.tensor([0.5, -1.0, 2.0, 0.1], dtype=torch.float64),
         torch.tensor([-0.3, 0.7, 1.5, -2.0], dtype=torch.float64),
         torch.tensor([1.2, 0.2, -0.4, 0.9], dtype=torch.float64)]
W0 = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)


class Param(nn.Module):
    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w.clone())


def _sgd(lr=0.1):
    w = W0.clone()
    for g in GRADS:
        w = w - lr * g
    return w


def _momentum(lr=0.05, mu=0.9, nesterov=False):
    w, v = W0.clone(), torch.zeros_like(W0)
    for g in GRADS:
        v = mu * v + g
        w = w - lr * ((g + mu * v) if nesterov else v)
    return w


def _adagrad(lr=0.05, eps=1e-10):
    w, G = W0.clone(), torch.zeros_like(W0)
    for g in GRADS:
        G = G + g * g
        w = w - lr * g / (G.sqrt() + eps)
    return w


def _adadelta(lr=1.0, rho=0.9, eps=1e-6):
    w, Eg, Ed = W0.clone(), torch.zeros_like(W0), torch.zeros_like(W0)
    for g in GRADS:
        Eg = rho * Eg + (1 - rho) * g * g
        d = (Ed + eps).sqrt() / (Eg + eps).sqrt() * g
        Ed = rho * Ed + (1 - rho) * d * d
        w = w - lr * d
    return w


def _rmsprop(lr=1e-3, alpha=0.99, eps=1e-8):
    w, s = W0.clone(), torch.zeros_like(W0)
    for g in GRADS:
        s = alpha * s + (1 - alpha) * g * g
        w = w - lr * g / (s.sqrt() + eps)
    return w


def _adam(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    w, m, v = W0.clone(), torch.zeros_like(W0), torch.zeros_like(W0)
    for t, g in enumerate(GRADS, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * (m / (1 - b1 ** t)) / ((v / (1 - b2 ** t)).sqrt() + eps)
    return w


@pytest.mark.parametrize("name, rule", [
    ("sgd", _sgd), ("momentum", _momentum), ("nesterov", lambda: _momentum(nesterov=True)),
    ("adagrad", _adagrad), ("adadelta", _adadelta), ("rmsprop", _rmsprop), ("adam", _adam)])
def test_three_steps_match_the_textbook_rule(name, rule):
    model = Param(W0)
    opt = build_optimizer(model, name)  # the table's default lr, as the textbook functions assume
    for g in GRADS:
        model.w.grad = g.clone()
        opt.step()
    assert torch.allclose(model.w.detach(), rule(), atol=1e-6, rtol=0)
    assert not torch.allclose(model.w.detach(), W0)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_decreases_a_convex_quadratic(name):
    A = torch.tensor([1.0, 3.0], dtype=torch.float64)
    model = Param(torch.tensor([1.0, -2.0], dtype=torch.float64))

    def loss() -> torch.Tensor:
        return 0.5 * (A * model.w ** 2).sum()

    start = loss().item()
    opt = build_optimizer(model, name)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        value = loss()
        value.backward()
        return value

    for _ in range(20):
        opt.step(closure)
    assert loss().item() < start


def test_torch_chooses_the_implementation_unless_asked():
    model = Param(W0)
    assert build_optimizer(model, "adam").defaults["foreach"] is None  # foreach on GPU, loop on CPU
    assert build_optimizer(model, "adam", foreach=True).defaults["foreach"] is True


def test_user_options_override_table_defaults():
    opt = build_optimizer(Param(W0), "momentum", lr=0.2, momentum=0.5, dampening=0.1)
    assert (opt.defaults["lr"], opt.defaults["momentum"], opt.defaults["dampening"]) == (0.2, 0.5, 0.1)


def test_entry_options_list_defaults():
    opts = OPTIMIZERS["adam"].options()
    assert opts["lr"] == 1e-3 and opts["betas"] == (0.9, 0.999)
    assert OPTIMIZERS["nesterov"].options()["nesterov"] is True


def test_unknown_optimizer_lists_valid_names():
    with pytest.raises(ConfigError, match="Did you mean 'adam'.*Valid names: .*adadelta.*sgdp"):
        build_optimizer(Param(W0), "adma")


def test_option_the_optimizer_does_not_take():
    with pytest.raises(ConfigError, match="'sgd' does not take option 'optim.betas'"):
        build_optimizer(Param(W0), "sgd", betas=(0.9, 0.99))
    with pytest.raises(ConfigError, match="'lbfgs' does not take option 'optim.weight_decay'"):
        build_optimizer(Param(W0), "lbfgs", weight_decay=0.1)


@pytest.mark.parametrize("lr", [0.0, -0.1])
def test_non_positive_lr(lr):
    with pytest.raises(ConfigError, match="optim.lr"):
        build_optimizer(Param(W0), "adam", lr=lr)


def test_lbfgs_takes_one_group_only():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    with pytest.raises(ConfigError, match="single parameter group"):
        build_optimizer(model, "lbfgs", lr_mult={"0": 0.5})
    opt = build_optimizer(model, "lbfgs", lr_mult={"0": 0})
    assert len(opt.param_groups) == 1 and len(opt.param_groups[0]["params"]) == 2
    assert math.isclose(opt.param_groups[0]["lr"], 1.0)
