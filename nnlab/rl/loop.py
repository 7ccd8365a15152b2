"""The environment as a training loader (the loop that is not epochs over a dataset).

``EpisodeRunner`` steps one environment, seeds every episode (``seed * 10**6 + episode``) and keeps the
episode's actions, so that a checkpoint restores the environment exactly by resetting with the same seed and
replaying those actions (any Gymnasium environment is deterministic given its reset seed; no access to its
internals, such as CartPole's ``env.unwrapped.state``, is needed). ``TransitionLoop`` is DQN's loader: each
item is a replay batch sampled after ``train_frequency`` environment steps."""
from __future__ import annotations

import math
from typing import Any, Callable, Iterator

import torch
from torch import nn

from nnlab.rl.replay import ReplayBuffer

_RECENT = 100  # episodes in the running mean that decides "solved" (CartPole: 475 over 100 episodes)


def encoder(obs_size: int, discrete: bool) -> Callable[[Any], torch.Tensor]:
    """Observation -> float tensor (D,): one-hot for discrete observations (FrozenLake's cell index)."""
    if discrete:
        eye = torch.eye(obs_size)
        return lambda obs: eye[int(obs)]
    return lambda obs: torch.as_tensor(obs, dtype=torch.float32).flatten()


def greedy_action(model: nn.Module, obs: torch.Tensor) -> int:
    """argmax of the model's outputs (Q-values or policy logits) for one observation (D,)."""
    device = next(model.parameters()).device
    with torch.no_grad():
        return int(model(obs[None].to(device)).argmax(1).item())


class EpisodeRunner:
    """One environment with seeded episodes, running counts and what restores it (plain data)."""

    def __init__(self, make_env: Callable[[], Any], encode: Callable[[Any], torch.Tensor], seed: int) -> None:
        self.make_env, self.encode, self.seed = make_env, encode, seed
        self.env = make_env()
        self.episode, self.actions = 0, []  # current episode index and its actions so far
        self.steps = 0  # environment steps in all
        self.ep_return, self.ep_length = 0.0, 0
        self.recent: list[float] = []  # returns of the last finished episodes
        self.epoch = {"returns": 0.0, "lengths": 0.0, "episodes": 0}
        self.obs = self._reset()

    def _reset(self) -> torch.Tensor:
        obs, _ = self.env.reset(seed=self.seed * 10**6 + self.episode)
        self.actions, self.ep_return, self.ep_length = [], 0.0, 0
        return self.encode(obs)

    def step(self, action: int) -> tuple[torch.Tensor, torch.Tensor, float, bool]:
        """Take an action: (obs, next obs, reward, terminated); starts the next episode after an end.
        ``next obs`` is the real successor, also when the episode was truncated (it is bootstrapped then)."""
        obs = self.obs
        nxt, reward, terminated, truncated, _ = self.env.step(action)
        nxt_t = self.encode(nxt)
        self.actions.append(int(action))
        self.steps += 1
        self.ep_return += float(reward)
        self.ep_length += 1
        if terminated or truncated:
            self._finish()
            self.obs = self._reset()
        else:
            self.obs = nxt_t
        return obs, nxt_t, float(reward), bool(terminated)

    def _finish(self) -> None:
        self.recent = (self.recent + [self.ep_return])[-_RECENT:]
        self.epoch["returns"] += self.ep_return
        self.epoch["lengths"] += self.ep_length
        self.epoch["episodes"] += 1
        self.episode += 1

    def new_epoch(self) -> None:
        self.epoch = {"returns": 0.0, "lengths": 0.0, "episodes": 0}

    def logs(self) -> dict[str, float]:
        """Mean return and length of the episodes finished this epoch (NaN when none), the mean return of
        the last 100 episodes, and the counts."""
        n = self.epoch["episodes"]
        return {"episode_return": self.epoch["returns"] / n if n else math.nan,
                "episode_length": self.epoch["lengths"] / n if n else math.nan, "episodes": float(n),
                "return_100": sum(self.recent) / len(self.recent) if self.recent else math.nan,
                "env_steps": float(self.steps)}

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "episode": self.episode, "actions": list(self.actions), "steps": self.steps,
                "recent": list(self.recent), "epoch": dict(self.epoch)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Reset to the saved episode's seed and replay its actions: the environment is where it was."""
        self.seed, self.episode, self.steps = state["seed"], state["episode"], state["steps"]
        self.recent, self.epoch = list(state["recent"]), dict(state["epoch"])
        self.obs = self._reset()
        for a in state["actions"]:
            nxt, reward, _, _, _ = self.env.step(a)
            self.actions.append(a)
            self.ep_return += float(reward)
            self.ep_length += 1
            self.obs = self.encode(nxt)


class _Loop:
    """A training loader over an ``EpisodeRunner``: ``len`` batches per epoch from ``_batch()``, an exploration
    generator, the runner's epoch figures, and a state that resumes mid-epoch exactly."""

    def __init__(self, runner: EpisodeRunner, policy: nn.Module, updates: int, seed: int) -> None:
        self.runner, self.policy, self.updates = runner, policy, updates
        self.gen = torch.Generator().manual_seed(seed)  # exploration / action sampling draws
        self.skip = 0

    def __len__(self) -> int:
        return self.updates

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        skip, self.skip = self.skip, 0
        if skip == 0:
            self.runner.new_epoch()
        for _ in range(skip, self.updates):
            yield self._batch()

    def _batch(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def epoch_logs(self) -> dict[str, float]:
        return self.runner.logs()

    def state_dict(self) -> dict[str, Any]:
        return {"runner": self.runner.state_dict(), "gen": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any], resume_batch: int = 0) -> None:
        self.runner.load_state_dict(state["runner"])
        self.gen.set_state(state["gen"])
        self.skip = resume_batch


class TransitionLoop(_Loop):
    """DQN's training loader: ``len`` = updates per epoch (``steps_per_epoch // train_frequency``). Each item
    follows ``train_frequency`` epsilon-greedy environment steps stored in the replay buffer, and is a batch
    sampled uniformly from it; the first epoch begins with ``warmup`` steps that only fill the buffer."""

    def __init__(self, runner: EpisodeRunner, buffer: ReplayBuffer, policy: nn.Module, *, num_actions: int,
                 batch_size: int, steps_per_epoch: int, train_frequency: int, warmup: int,
                 epsilon: Callable[[int], float], seed: int) -> None:
        super().__init__(runner, policy, steps_per_epoch // train_frequency, seed)
        self.buffer, self.num_actions, self.epsilon = buffer, num_actions, epsilon
        self.batch_size, self.train_frequency, self.warmup = batch_size, train_frequency, warmup

    def _batch(self) -> dict[str, torch.Tensor]:
        while self.runner.steps < self.warmup:
            self._transition()
        for _ in range(self.train_frequency):
            self._transition()
        return self.buffer.sample(self.batch_size)

    def _transition(self) -> None:
        eps = self.epsilon(self.runner.steps)
        if float(torch.rand((), generator=self.gen)) < eps:
            action = int(torch.randint(self.num_actions, (), generator=self.gen))
        else:
            action = greedy_action(self.policy, self.runner.obs)
        obs, nxt, reward, terminated = self.runner.step(action)
        self.buffer.add(obs, action, reward, nxt, terminated)

    def epoch_logs(self) -> dict[str, float]:
        return {**self.runner.logs(), "epsilon": self.epsilon(self.runner.steps)}

    def state_dict(self) -> dict[str, Any]:
        """Exact: replay contents and sampler, the environment (seed + actions), counters, exploration RNG."""
        return {**super().state_dict(), "buffer": self.buffer.state_dict()}

    def load_state_dict(self, state: dict[str, Any], resume_batch: int = 0) -> None:
        super().load_state_dict(state, resume_batch)
        self.buffer.load_state_dict(state["buffer"])


def returns_to_go(rewards: list[float], gamma: float) -> torch.Tensor:
    """G_t = r_t + gamma * G_{t+1} for every step of one episode (T,)."""
    out, g = [0.0] * len(rewards), 0.0
    for t in range(len(rewards) - 1, -1, -1):
        g = rewards[t] + gamma * g
        out[t] = g
    return torch.tensor(out)


class EpisodeLoop(_Loop):
    """REINFORCE's training loader: each item is ``episodes`` whole episodes sampled from the current policy
    (softmax over the model's logits), as steps (T, ...) with their returns-to-go; ``len`` = updates per epoch.
    Batches end on episode boundaries, so a checkpoint between them needs no replay of actions."""

    def __init__(self, runner: EpisodeRunner, policy: nn.Module, *, episodes: int, updates: int, gamma: float,
                 seed: int) -> None:
        super().__init__(runner, policy, updates, seed)
        self.episodes, self.gamma = episodes, gamma

    def _batch(self) -> dict[str, torch.Tensor]:
        parts = [self._episode() for _ in range(self.episodes)]
        return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}

    def _episode(self) -> dict[str, torch.Tensor]:
        obs, actions, rewards = [], [], []
        device = next(self.policy.parameters()).device
        start = self.runner.episode
        while self.runner.episode == start:
            with torch.no_grad():
                probs = torch.softmax(self.policy(self.runner.obs[None].to(device)).float().cpu(), -1)  # (1, A)
            action = int(torch.multinomial(probs[0], 1, generator=self.gen))
            o, _, reward, _ = self.runner.step(action)
            obs.append(o), actions.append(action), rewards.append(reward)
        return {"obs": torch.stack(obs), "action": torch.tensor(actions), "return": returns_to_go(rewards, self.gamma)}
