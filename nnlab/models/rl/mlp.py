"""Multi-layer perceptrons over a flat observation: a Q-network (one value per action) and a policy with a
value baseline (REINFORCE, Williams 1992)."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from nnlab.models.layers import activation
from nnlab.models.rl.registry import RL_MODELS


def _trunk(obs_size: int, hidden: Sequence[int], act: str) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    width = obs_size
    for h in hidden:
        layers += [nn.Linear(width, h), activation(act)]
        width = h
    return nn.Sequential(*layers), width


class QNetwork(nn.Module):
    """Q(s, .) for every action at once: (B, obs_size) -> (B, num_actions)."""

    def __init__(self, obs_size: int, num_actions: int, hidden: Sequence[int] = (120, 84),
                 act: str = "relu") -> None:
        super().__init__()
        self.body, width = _trunk(obs_size, hidden, act)
        self.head = nn.Linear(width, num_actions)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(obs.float()))  # (B, A)


class PolicyValue(nn.Module):
    """Action logits and a state-value baseline from one trunk: (B, D) -> (B, A) logits; ``value`` (B,)."""

    def __init__(self, obs_size: int, num_actions: int, hidden: Sequence[int] = (64, 64),
                 act: str = "tanh") -> None:
        super().__init__()
        self.body, width = _trunk(obs_size, hidden, act)
        self.policy = nn.Linear(width, num_actions)
        trunk, _ = _trunk(obs_size, hidden, act)
        self.baseline = nn.Sequential(trunk, nn.Linear(width, 1))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.policy(self.body(obs.float()))  # (B, A) logits

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.baseline(obs.float()).squeeze(-1)  # (B,)


@RL_MODELS.register("qmlp")
def qmlp(*, obs_size: int, num_actions: int, hidden: Sequence[int] = (120, 84), act: str = "relu",
         obs_shape: Sequence[int] | None = None) -> QNetwork:
    """CleanRL's CartPole Q-network shape by default (120, 84); reads observations flat (``obs_shape`` unused)."""
    return QNetwork(obs_size, num_actions, tuple(hidden), act)


@RL_MODELS.register("policy_mlp")
def policy_mlp(*, obs_size: int, num_actions: int, hidden: Sequence[int] = (64, 64),
               act: str = "tanh", obs_shape: Sequence[int] | None = None) -> PolicyValue:
    """A softmax policy and a separate value network (the REINFORCE baseline); reads observations flat."""
    return PolicyValue(obs_size, num_actions, tuple(hidden), act)
