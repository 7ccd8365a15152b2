"""The DQN update (Mnih et al. 2015), with Double DQN (van Hasselt et al. 2016) as a switch.

The target is r + gamma * (1 - terminated) * Q_target(s', a*), a* = argmax Q_target(s') (DQN) or
argmax Q_online(s') (Double DQN). Only termination zeroes the bootstrap: a time-limit truncation is not
the end of the task, and treating it as one teaches the network that state's value is zero."""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn


class DQNAgent(nn.Module):
    """An online Q-network and its target copy; ``updates`` counts optimizer steps (saved with the weights,
    so a resumed run updates its target on the same steps). ``forward`` is the online network."""

    def __init__(self, q: nn.Module) -> None:
        super().__init__()
        self.online = q
        self.target = copy.deepcopy(q).requires_grad_(False)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.online(obs)  # (B, A)

    @torch.no_grad()
    def sync_target(self, tau: float = 1.0) -> None:
        """Hard copy (tau = 1) or Polyak averaging target <- tau * online + (1 - tau) * target."""
        for t, o in zip(self.target.parameters(), self.online.parameters()):
            t.copy_(o) if tau >= 1.0 else t.lerp_(o, tau)
        for t, o in zip(self.target.buffers(), self.online.buffers()):
            t.copy_(o)


def td_target(agent: DQNAgent, reward: torch.Tensor, next_obs: torch.Tensor, terminated: torch.Tensor,
              gamma: float, double: bool) -> torch.Tensor:
    """The bootstrap target (B,), computed without gradients."""
    with torch.no_grad():
        next_q = agent.target(next_obs)  # (B, A)
        if double:
            best = agent.online(next_obs).argmax(1, keepdim=True)  # (B, 1)
        else:
            best = next_q.argmax(1, keepdim=True)
        return reward + gamma * (1.0 - terminated) * next_q.gather(1, best).squeeze(1)


def dqn_loss(agent: DQNAgent, batch: dict[str, torch.Tensor], gamma: float, double: bool,
             loss: str = "huber") -> tuple[torch.Tensor, torch.Tensor]:
    """Huber (or squared) error between Q(s, a) and the target; also the batch's Q(s, a) (B,)."""
    q = agent(batch["obs"]).gather(1, batch["action"][:, None]).squeeze(1)  # (B,)
    y = td_target(agent, batch["reward"], batch["next_obs"], batch["terminated"], gamma, double)
    err = F.smooth_l1_loss(q, y) if loss == "huber" else F.mse_loss(q, y)
    return err, q.detach()
