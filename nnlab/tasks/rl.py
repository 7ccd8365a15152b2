"""Reinforcement learning on Gymnasium environments: DQN (Mnih et al. 2015; Double DQN as a switch) and
REINFORCE with a learned baseline (Williams 1992), the policy-gradient contrast to value-based learning.

The training "data" is the environment: the train loader is ``nnlab.rl.loop.TransitionLoop`` for DQN (an epoch is
``rl.steps_per_epoch`` environment steps; each batch is a replay sample) or ``EpisodeLoop`` for REINFORCE
(an epoch is ``rl.updates_per_epoch`` batches of whole on-policy episodes), so the engine's checkpoints,
Ctrl-C and exact resume apply unchanged (the replay buffer is saved in ``last.pt``). Validation and test
splits are lists of episode seeds: the evaluator plays one greedy episode per seed, so ``nnlab eval``
reproduces the saved test returns. The tabular methods run in ``nnlab rl solve`` instead.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nnlab.config import Config
from nnlab.config_tasks import RL_TABULAR
from nnlab.engine.trainer import Logs
from nnlab.errors import ConfigError, UserError
from nnlab.models.rl import RL_MODELS
from nnlab.rl import envs
from nnlab.rl.dqn import DQNAgent, dqn_loss
from nnlab.rl.loop import EpisodeLoop, EpisodeRunner, TransitionLoop, encoder, greedy_action
from nnlab.rl.replay import ReplayBuffer
from nnlab.rl.tabular import linear
from nnlab.tasks.base import TASKS, Indices, Task, TaskData

MODELS_FOR = {"dqn": ("qmlp", "qcnn"), "reinforce": ("policy_mlp",)}  # algorithm -> the model families it trains
_SPLIT_SEED = {"val": 10**9, "test": 2 * 10**9}  # episode seeds of the evaluation splits (never trained on)


def play_episode(env: Any, model: nn.Module, encode: Any, seed: int | None,
                 frames: list | None = None) -> tuple[float, int]:
    """One greedy episode: (return, length); with ``frames``, the rendered images are appended."""
    obs, _ = env.reset(seed=seed)
    total, length = 0.0, 0
    while True:
        if frames is not None:
            frames.append(env.render())
        obs, reward, terminated, truncated, _ = env.step(greedy_action(model, encode(obs)))
        total, length = total + float(reward), length + 1
        if terminated or truncated:
            return total, length


class ReturnEvaluator:
    """Mean return and length of greedy episodes, one per seed in the batch."""

    def __init__(self, make_env: Any, encode: Any) -> None:
        self.env, self.encode = make_env(), encode
        self.returns: list[float] = []
        self.lengths: list[int] = []

    def update(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> None:
        for seed in batch["seed"].tolist():
            ret, length = play_episode(self.env, model, self.encode, int(seed))
            self.returns.append(ret)
            self.lengths.append(length)

    def compute(self) -> dict[str, float]:
        n = len(self.returns)
        if n == 0:
            return {"return": math.nan, "length": math.nan}
        return {"return": sum(self.returns) / n, "length": sum(self.lengths) / n}


@TASKS.register("rl")
class RL(Task):
    """Learn to act in an environment; the monitor is the greedy validation return."""

    name = "rl"
    models = RL_MODELS
    data_args = ("obs_size", "num_actions", "obs_shape")
    monitor, mode = "val_return", "max"
    data_parallel = False  # one environment loop; see nnlab/engine/distributed.py
    takes_files = False

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.model: nn.Module | None = None

    def check_model_options(self) -> None:
        r = self.cfg.rl
        if r.algorithm in RL_TABULAR:  # before the model name: a tabular config names no model
            raise ConfigError(f"rl.algorithm {r.algorithm!r} is tabular: run it with `nnlab rl solve CONFIG` "
                              f"(nnlab train runs {', '.join(MODELS_FOR)})")
        super().check_model_options()

    def validate(self) -> None:
        """Every mistake a user can make here, before a run starts."""
        r = self.cfg.rl
        allowed = MODELS_FOR[r.algorithm]
        if self.cfg.model.name not in allowed:
            raise ConfigError(f"rl.algorithm {r.algorithm!r} trains model.name {' or '.join(allowed)} "
                              f"(got {self.cfg.model.name!r})")
        env = self._make_env()
        envs.spaces(env)  # continuous actions -> ConfigError
        batch = self.cfg.train.batch_size
        if r.algorithm == "dqn" and (batch == "full" or batch > r.buffer_size):
            raise ConfigError(f"train.batch_size ({batch}) must be a number no larger than the replay "
                              f"capacity rl.buffer_size ({r.buffer_size})")

    def _make_env(self, render_mode: str | None = None) -> Any:
        r = self.cfg.rl
        return envs.make(r.env, r.env_args, r.max_episode_steps, render_mode)

    def load_data(self, progress: bool = True, train_indices: Indices = None, val_indices: Indices = None) -> TaskData:
        if train_indices is not None or val_indices is not None:
            raise UserError("an rl run has no samples to subset (train_indices / val_indices)")
        r = self.cfg.rl
        env = self._make_env()
        obs_size, num_actions, discrete = envs.spaces(env)
        seeds = {split: [{"seed": torch.tensor([base + self.cfg.seed * 10**5 + i])} for i in range(n)]
                 for (split, base), n in zip(_SPLIT_SEED.items(), (r.eval_episodes, r.test_episodes))}
        info = {"dataset": r.env, "env": r.env, "env_args": dict(r.env_args), "max_episode_steps": r.max_episode_steps,
                "algorithm": r.algorithm, "obs_size": obs_size, "num_actions": num_actions, "discrete_obs": discrete,
                "obs_shape": envs.obs_shape(env)}
        return TaskData({"train": None, **seeds}, info)

    def build_model(self, info: dict[str, Any]) -> nn.Module:
        net = RL_MODELS.build(self.cfg.model.name, obs_size=info["obs_size"], num_actions=info["num_actions"],
                              obs_shape=info.get("obs_shape"), **self.cfg.model.args)
        return DQNAgent(net) if self.cfg.rl.algorithm == "dqn" else net

    def setup(self, model: nn.Module, info: dict[str, Any]) -> None:
        self.model, self.info = model, info

    def encode(self) -> Any:
        return encoder(self.info["obs_size"], self.info["discrete_obs"])

    def loader(self, data: TaskData, split: str, train: bool = False) -> Any:
        if not train:
            return data.split(split)
        r, t = self.cfg.rl, self.cfg.train
        runner = EpisodeRunner(self._make_env, self.encode(), self.cfg.seed)
        if r.algorithm == "reinforce":
            return EpisodeLoop(runner, self.model, episodes=r.episodes_per_batch, updates=r.updates_per_epoch,
                               gamma=r.gamma, seed=self.cfg.seed + 1)
        warmup = max(r.learning_starts, t.batch_size)
        total = warmup + t.epochs * r.steps_per_epoch
        return TransitionLoop(runner, ReplayBuffer(r.buffer_size, self.info["obs_size"], self.cfg.seed),
                              self.model, num_actions=self.info["num_actions"], batch_size=t.batch_size,
                              steps_per_epoch=r.steps_per_epoch, train_frequency=r.train_frequency, warmup=warmup,
                              epsilon=linear(r.epsilon_start, r.epsilon_end, int(r.exploration_fraction * total)),
                              seed=self.cfg.seed + 1)

    def training_step(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, Logs]:
        return self._dqn_step(model, batch) if self.cfg.rl.algorithm == "dqn" else self._reinforce_step(model, batch)

    def _dqn_step(self, model: DQNAgent, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, Logs]:
        """The DQN loss on a replay batch; the target network follows every ``rl.target_update`` optimizer
        steps (counted in the model, so a resumed run updates on the same steps)."""
        r = self.cfg.rl
        if model.updates > 0 and int(model.updates) % r.target_update == 0:
            model.sync_target(r.tau)
        model.updates += 1
        loss, q = dqn_loss(model, batch, r.gamma, r.double, r.loss)
        return loss, {"q": q.mean()}

    def _reinforce_step(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, Logs]:
        """-log pi(a|s) (G - b(s)) with the baseline b fitted to the returns G (its error is not in the
        policy's gradient: the advantage is detached)."""
        logp = torch.log_softmax(model(batch["obs"]).float(), -1)  # (T, A)
        value = model.value(batch["obs"])  # (T,)
        advantage = batch["return"] - value.detach()  # (T,)
        policy_loss = -(logp.gather(1, batch["action"][:, None]).squeeze(1) * advantage).mean()
        value_loss = F.mse_loss(value, batch["return"])
        entropy = -(logp.exp() * logp).sum(-1).mean()
        return policy_loss + self.cfg.rl.value_coef * value_loss, {"value_loss": value_loss.detach(),
                                                                  "entropy": entropy.detach()}

    def evaluator(self) -> ReturnEvaluator:
        return ReturnEvaluator(self._make_env, self.encode())

    def report(self, evaluator: ReturnEvaluator, info: dict[str, Any], out_dir: Path, split: str,
               title: str) -> dict[str, Any]:
        return {"count": len(evaluator.returns), "unit": "episodes", "returns": evaluator.returns}

    def predict(self, model: nn.Module, info: dict[str, Any], paths: Sequence[str | Path],
                device: torch.device, **options: Any) -> list[dict[str, Any]]:
        raise UserError("an rl run acts in its environment and takes no input files: watch it with "
                        "`nnlab rl play RUN --episodes 10 [--gif out.gif]`")

    def play(self, model: nn.Module, episodes: int, seed: int, gif: str | Path | None = None
             ) -> list[dict[str, float]]:
        """Greedy episodes (seeds ``seed``, ``seed + 1``, ...); with ``gif``, the first one rendered."""
        results, frames = [], []
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # pygame renders off-screen (no display needed)
        env = self._make_env("rgb_array" if gif else None)
        for i in range(episodes):
            ret, length = play_episode(env, model, self.encode(), seed + i, frames if gif and i == 0 else None)
            results.append({"episode": i + 1, "seed": seed + i, "return": ret, "length": length})
        if gif:
            save_gif(frames, gif)
        return results


def save_gif(frames: list, path: str | Path, fps: int = 30) -> Path:
    """Rendered RGB frames (H, W, 3) as an animated GIF (Pillow)."""
    from PIL import Image

    if not frames or frames[0] is None:
        raise UserError("the environment rendered no frames (does it support render_mode='rgb_array'? "
                        "classic-control rendering needs pygame: pip install 'gymnasium[classic-control]')")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return path
