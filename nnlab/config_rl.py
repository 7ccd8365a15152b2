"""The ``rl`` section of the config (``task: rl`` and ``nnlab rl solve``), kept beside ``nnlab.config``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from nnlab.errors import ConfigError


def _check(ok: bool, key: str, why: str) -> None:
    if not ok:
        raise ConfigError(f"config key '{key}' {why}")


RL_TABULAR = ("value_iteration", "policy_iteration", "q_learning", "sarsa")  # `nnlab rl solve`
RL_DEEP = ("dqn", "reinforce")  # `nnlab train` (task: rl)


@dataclass
class RLConfig:
    """Options of ``task: rl`` and ``nnlab rl solve`` (nnlab/rl, nnlab/tasks/rl.py)."""

    env: str = "CartPole-v1"  # a Gymnasium id (see `nnlab rl envs`) or "gridworld"
    env_args: dict[str, Any] = field(default_factory=dict)  # keywords of gym.make, or the gridworld's
    max_episode_steps: int | None = None  # None: the environment's own time limit
    algorithm: Literal["value_iteration", "policy_iteration", "q_learning", "sarsa", "dqn", "reinforce"] = "dqn"
    gamma: float = 0.99
    # dynamic programming and tabular TD
    tol: float = 1e-8  # value iteration stops when the Bellman residual is below this
    episodes: int = 20_000  # Q-learning / SARSA training episodes
    alpha: float = 0.1  # TD step size
    eval_every: int = 1000  # Q-learning / SARSA: greedy success rate every N episodes (0: off)
    # exploration (DQN: over environment steps; tabular: over episodes)
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    exploration_fraction: float = 0.5  # of all steps (episodes) over which epsilon decays linearly
    # deep RL: an epoch is `steps_per_epoch` environment steps; a training batch every `train_frequency`
    steps_per_epoch: int = 10_000
    train_frequency: int = 10
    learning_starts: int = 1000  # environment steps before the first update (filled into the buffer)
    buffer_size: int = 10_000
    target_update: int = 500  # optimizer steps between target updates
    tau: float = 1.0  # 1: hard copy; < 1: Polyak averaging at every target update
    double: bool = False  # Double DQN
    loss: Literal["huber", "mse"] = "huber"
    episodes_per_batch: int = 4  # REINFORCE: episodes per gradient step
    updates_per_epoch: int = 25  # REINFORCE: gradient steps per epoch
    value_coef: float = 0.5  # REINFORCE: weight of the baseline's squared error in the loss
    eval_episodes: int = 10  # greedy validation episodes per epoch (val_return)
    test_episodes: int = 1000  # greedy test episodes (tabular: the success-rate episodes)

    def __post_init__(self) -> None:
        _check(0.0 <= self.gamma <= 1.0, "rl.gamma", f"must be in [0, 1] (got {self.gamma})")
        _check(self.tol > 0, "rl.tol", "must be positive")
        _check(0.0 < self.alpha <= 1.0, "rl.alpha", "must be in (0, 1]")
        _check(0.0 < self.tau <= 1.0, "rl.tau", "must be in (0, 1]")
        for key in ("epsilon_start", "epsilon_end", "exploration_fraction"):
            _check(0.0 <= getattr(self, key) <= 1.0, f"rl.{key}", "must be in [0, 1]")
        for key in ("episodes", "steps_per_epoch", "train_frequency", "buffer_size", "target_update",
                    "episodes_per_batch", "updates_per_epoch", "eval_episodes", "test_episodes"):
            _check(getattr(self, key) >= 1, f"rl.{key}", "must be >= 1")
        _check(self.learning_starts >= 0 and self.eval_every >= 0, "rl.learning_starts", "and rl.eval_every "
               "must be >= 0")
        _check(self.max_episode_steps is None or self.max_episode_steps >= 1, "rl.max_episode_steps", "must be >= 1")
        _check(self.steps_per_epoch >= self.train_frequency, "rl.steps_per_epoch",
               "must be at least rl.train_frequency (one update per epoch)")
