"""Model EMA: the update rule equals torch.optim.swa_utils' EMA, buffers are copied, the warm-up ramp follows its
formula, and the trainer validates and saves ``best.pt`` with the average and restores it exactly on resume."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from nnlab import config as cfgmod
from nnlab.engine import checkpoint
from nnlab.engine.callbacks import Checkpoint
from nnlab.engine.ema import ModelEma, eval_weights
from nnlab.engine.runs import RunDir
from nnlab.engine.trainer import Trainer
from nnlab.errors import ConfigError

CPU = torch.device("cpu")


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))


def _sgd_steps(model: nn.Module, steps: int, each) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for i in range(steps):
        x = torch.randn(16, 3, generator=torch.Generator().manual_seed(i))
        model(x).pow(2).mean().backward()
        opt.step()
        opt.zero_grad()
        each()


def test_update_equals_torch_swa_utils_ema_and_copies_buffers():
    model = _net()
    ours = ModelEma(model, decay=0.9)
    ref = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9))
    ref.update_parameters(model)  # its first update copies the weights: where ours starts

    def both() -> None:
        ours.update(model)
        ref.update_parameters(model)

    _sgd_steps(model.train(), 5, both)
    for a, b in zip(ours.module.parameters(), ref.module.parameters()):
        assert torch.equal(a, b)  # the same lerp: bit-identical
    assert not torch.allclose(next(ours.module.parameters()), next(model.parameters()))  # an average, not a copy
    for a, b in zip(ours.module.buffers(), model.buffers()):  # BatchNorm statistics: the model's own
        assert torch.equal(a, b)
    assert ours.updates == 5 and not ours.module.training
    assert all(not p.requires_grad for p in ours.module.parameters())


def test_warmup_ramps_the_decay():
    ema = ModelEma(nn.Linear(2, 2), decay=0.99, warmup=10)
    assert ema.decay_now() == pytest.approx(0.99 * (1 - math.exp(-1 / 10)))
    ema.updates = 1000
    assert ema.decay_now() == pytest.approx(0.99, abs=1e-12)
    assert ModelEma(nn.Linear(2, 2), decay=0.99).decay_now() == 0.99


def test_state_round_trip_and_eval_weights():
    model = _net()
    ema = ModelEma(model, 0.5)
    _sgd_steps(model.train(), 2, lambda: ema.update(model))
    other = ModelEma(_net(), 0.5)
    other.load_state_dict(ema.state_dict())
    assert other.updates == 2
    assert all(torch.equal(a, b) for a, b in zip(other.module.state_dict().values(), ema.module.state_dict().values()))
    assert eval_weights({"model": {"w": 1}, "ema": {"model": {"w": 2}}}) == {"w": 2}
    assert eval_weights({"model": {"w": 1}, "ema": None}) == {"w": 1}


class _Task:
    manual_optimization = False

    def training_step(self, model, batch):
        loss = model(batch).pow(2).mean()
        return loss, {}

    def evaluator(self):
        return _Eval()


class _Eval:
    def __init__(self) -> None:
        self.out: list[float] = []

    def update(self, model, batch) -> None:
        self.out.append(float(model(batch).pow(2).mean()))

    def compute(self) -> dict[str, float]:
        return {"loss": sum(self.out) / len(self.out)}


def test_trainer_validates_and_saves_the_average(tmp_path):
    model = _net()
    batches = [torch.randn(8, 3, generator=torch.Generator().manual_seed(i)) for i in range(4)]
    ema = ModelEma(model, 0.8)
    run = RunDir(tmp_path)
    trainer = Trainer(model, _Task(), torch.optim.SGD(model.parameters(), lr=0.1), epochs=2, device=CPU,
                      progress=False, ema=ema, callbacks=[Checkpoint(run)], monitor="val_loss", mode="min")
    trainer.fit(batches, batches[:1])
    assert ema.updates == 8 and trainer.eval_model is ema.module
    best = checkpoint.load(run.best)["model"]
    assert all(torch.equal(best[k], v) for k, v in ema.module.state_dict().items())
    last = checkpoint.load(run.last)
    assert last["ema"]["updates"] == 8 and not torch.equal(last["model"]["0.weight"], best["0.weight"])
    resumed = Trainer(_net(), _Task(), torch.optim.SGD(_net().parameters(), lr=0.1), epochs=2, device=CPU,
                      ema=ModelEma(_net(), 0.8))
    resumed.load_state_dict(last)
    assert resumed.ema.updates == 8
    assert torch.equal(resumed.eval_model.state_dict()["0.weight"], best["0.weight"])


def test_config_rejects_a_decay_outside_0_1():
    assert cfgmod.from_dict({"train": {"ema": {"decay": 0.999, "warmup": 100}}}).train.ema.decay == 0.999
    with pytest.raises(ConfigError, match="train.ema.decay"):
        cfgmod.from_dict({"train": {"ema": {"decay": 1.0}}})
    with pytest.raises(ConfigError, match="train.ema.warmup"):
        cfgmod.from_dict({"train": {"ema": {"decay": 0.9, "warmup": -1}}})
