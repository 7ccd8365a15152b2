"""Experience replay (notes: store (state, action, reward, next state) and train on random samples, because
consecutive samples are correlated). Mnih et al., *Human-level control through deep RL*, Nature 2015."""
from __future__ import annotations

from typing import Any

import torch


class ReplayBuffer:
    """A ring buffer of transitions in preallocated tensors; uniform sampling over the written slots only,
    from its own seeded generator. ``terminated`` (not ``truncated``) is stored: only a true end of the
    episode stops the bootstrap."""

    def __init__(self, capacity: int, obs_size: int, seed: int = 0) -> None:
        if capacity < 1:
            raise ValueError("replay capacity must be >= 1")
        self.capacity = capacity
        self.obs = torch.zeros(capacity, obs_size)  # (N, D)
        self.next_obs = torch.zeros(capacity, obs_size)  # (N, D)
        self.action = torch.zeros(capacity, dtype=torch.long)  # (N,)
        self.reward = torch.zeros(capacity)  # (N,)
        self.terminated = torch.zeros(capacity)  # (N,) 1.0 where the episode truly ended
        self.pos = self.size = 0
        self.gen = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.size

    def add(self, obs: torch.Tensor, action: int, reward: float, next_obs: torch.Tensor, terminated: bool) -> None:
        i = self.pos
        self.obs[i], self.next_obs[i] = obs, next_obs
        self.action[i], self.reward[i], self.terminated[i] = action, reward, float(terminated)
        self.pos = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int) -> dict[str, torch.Tensor]:
        """``batch_size`` transitions drawn uniformly with replacement from the written slots."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        idx = torch.randint(self.size, (batch_size,), generator=self.gen)  # (B,)
        return {"obs": self.obs[idx], "action": self.action[idx], "reward": self.reward[idx],
                "next_obs": self.next_obs[idx], "terminated": self.terminated[idx]}

    def state_dict(self) -> dict[str, Any]:
        """The written slots and the sampler's state: plain tensors and ints (loads with weights_only)."""
        n = self.size
        return {"obs": self.obs[:n].clone(), "next_obs": self.next_obs[:n].clone(),
                "action": self.action[:n].clone(), "reward": self.reward[:n].clone(),
                "terminated": self.terminated[:n].clone(), "pos": self.pos, "size": n,
                "capacity": self.capacity, "gen": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["capacity"] != self.capacity:
            raise ValueError(f"replay capacity differs: saved {state['capacity']}, now {self.capacity}")
        n = state["size"]
        for key in ("obs", "next_obs", "action", "reward", "terminated"):
            getattr(self, key)[:n] = state[key]
        self.pos, self.size = state["pos"], n
        self.gen.set_state(state["gen"])
