"""The seams the task layer promises, proven on toy tasks: a task that steps two optimizers itself (as a GAN
will) resumes exactly with both; a loop with no dataset (as RL will) gets epochs, checkpoints and resume;
batches of nested structure reach the device; the evaluation loop honours precision."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nnlab.engine.batch import batch_len, to_device
from nnlab.engine.callbacks import Checkpoint
from nnlab.engine import checkpoint
from nnlab.engine.runs import RunDir
from nnlab.engine.trainer import Trainer, evaluate

CPU = torch.device("cpu")


class MeanEvaluator:
    def __init__(self) -> None:
        self.total, self.n = 0.0, 0

    def update(self, model: nn.Module, batch: Any) -> None:
        self.total += float(model(batch["x"]).pow(2).mean()) * len(batch["x"])
        self.n += len(batch["x"])

    def compute(self) -> dict[str, float]:
        return {"loss": self.total / max(self.n, 1)}


class TwoPlayers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.g, self.d = nn.Linear(4, 4), nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.d(self.g(x))


class Adversarial:
    """A toy two-optimizer task: d minimizes its output on g's samples, g maximizes it."""

    manual_optimization = True

    def manual_step(self, model: TwoPlayers, batch: dict, step) -> tuple[torch.Tensor, dict]:
        x = batch["x"]
        d_loss = model.d(model.g(x).detach()).pow(2).mean() + model.d(x).sub(1).pow(2).mean()
        step("d", d_loss)
        noise = torch.randn_like(x) * 0.1  # global RNG: the checkpoint must restore it
        g_loss = model.d(model.g(x + noise)).sub(1).pow(2).mean()
        step("g", g_loss)
        return g_loss.detach(), {"d_loss": d_loss.detach()}

    def evaluator(self) -> MeanEvaluator:
        return MeanEvaluator()


class DictLoader:
    """Batches as dicts, reshuffled per epoch from a saved generator (like TensorLoader)."""

    def __init__(self, n: int = 32, batch: int = 8) -> None:
        self.x = torch.randn(n, 4, generator=torch.Generator().manual_seed(1))
        self.batch, self.gen, self.skip = batch, torch.Generator().manual_seed(2), 0
        self.start = self.gen.get_state()

    def __len__(self) -> int:
        return len(self.x) // self.batch

    def __iter__(self):
        self.start = self.gen.get_state()
        order = torch.randperm(len(self.x), generator=self.gen)
        skip, self.skip = self.skip, 0
        for b in range(skip, len(self)):
            yield {"x": self.x[order[b * self.batch:(b + 1) * self.batch]]}

    def state_dict(self) -> dict:
        return {"start": self.start, "current": self.gen.get_state()}

    def load_state_dict(self, state: dict, resume_batch: int = 0) -> None:
        self.gen.set_state(state["start"] if resume_batch else state["current"])
        self.skip = resume_batch


def _two_player_trainer(model: TwoPlayers, run: RunDir, epochs: int) -> Trainer:
    opts = {"d": torch.optim.Adam(model.d.parameters(), 1e-2), "g": torch.optim.SGD(model.g.parameters(), 1e-2,
                                                                                   momentum=0.9)}
    scheds = {"g": torch.optim.lr_scheduler.StepLR(opts["g"], 1, 0.5)}
    return Trainer(model, Adversarial(), opts, schedulers=scheds, epochs=epochs, device=CPU, progress=False,
                   callbacks=[Checkpoint(run)])


def test_manual_task_with_two_optimizers_resumes_exactly(tmp_path):
    torch.manual_seed(0)
    a = TwoPlayers()
    b = TwoPlayers()
    b.load_state_dict(a.state_dict())
    torch.manual_seed(3)
    full = _two_player_trainer(a, RunDir(tmp_path / "a"), 3)
    full.fit(DictLoader())
    assert full.state.step == 12 and set(full.state_dict()["optimizers"]) == {"d", "g"}

    torch.manual_seed(3)
    part = _two_player_trainer(b, RunDir(tmp_path / "b"), 2)
    part.fit(DictLoader())
    ckpt = checkpoint.load(RunDir(tmp_path / "b").last)
    c = TwoPlayers()
    resumed = _two_player_trainer(c, RunDir(tmp_path / "b"), 3)
    loader = DictLoader()
    resumed.load_state_dict(ckpt, loader)
    assert resumed.schedulers["g"].get_last_lr() == part.schedulers["g"].get_last_lr()
    resumed.fit(loader)
    for k, v in a.state_dict().items():
        assert torch.equal(v, c.state_dict()[k]), k


class Environment:
    """A loader with no dataset: each item is one environment step's transition (as an RL task's loop)."""

    def __init__(self, steps: int) -> None:
        self.steps, self.state, self.skip = steps, torch.zeros(4), 0

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        for _ in range(self.skip, self.steps):
            self.state = torch.tanh(self.state + torch.randn(4))
            yield {"x": self.state[None].clone()}
        self.skip = 0

    def state_dict(self) -> dict:
        return {"state": self.state.clone()}

    def load_state_dict(self, state: dict, resume_batch: int = 0) -> None:
        self.state, self.skip = state["state"].clone(), resume_batch


class Regress:
    manual_optimization = False

    def training_step(self, model: nn.Module, batch: dict) -> tuple[torch.Tensor, dict]:
        return model(batch["x"]).pow(2).mean(), {}

    def evaluator(self) -> MeanEvaluator:
        return MeanEvaluator()


def test_a_loop_without_a_dataset_checkpoints_and_resumes(tmp_path):
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    Trainer(model, Regress(), torch.optim.SGD(model.parameters(), 0.1), epochs=4, device=CPU,
            progress=False).fit(Environment(5))
    torch.manual_seed(0)
    again = nn.Linear(4, 1)
    again.load_state_dict(start)
    run = RunDir(tmp_path)
    first = Trainer(again, Regress(), torch.optim.SGD(again.parameters(), 0.1), epochs=2, device=CPU,
                    progress=False, callbacks=[Checkpoint(run)])
    first.fit(Environment(5))
    env = Environment(5)
    later = Trainer(again, Regress(), torch.optim.SGD(again.parameters(), 0.1), epochs=4, device=CPU,
                    progress=False, callbacks=[Checkpoint(run)])
    later.load_state_dict(checkpoint.load(run.last), env)
    later.fit(env)
    assert later.state.step == 20
    assert all(torch.equal(model.state_dict()[k], again.state_dict()[k]) for k in start)


def test_nested_batches_move_and_count():
    batch = ({"x": torch.zeros(3, 1, 4, 4)}, [{"boxes": torch.zeros(2, 4)}] * 3)
    moved = to_device(batch, CPU, channels_last=True)
    assert moved[0]["x"].is_contiguous(memory_format=torch.channels_last)
    assert batch_len(batch) == 3 and batch_len([{"a": 1}] * 5) == 5


def test_evaluate_runs_in_inference_mode_with_bf16():
    seen = {}

    class Probe(MeanEvaluator):
        def update(self, model, batch):
            seen["grad"] = torch.is_grad_enabled()
            seen["dtype"] = model(batch["x"]).dtype
            super().update(model, batch)

    model = nn.Linear(4, 1).train()
    evaluate(model, DictLoader(), Probe(), CPU, precision="bf16")
    assert seen == {"grad": False, "dtype": torch.bfloat16} and not model.training
