"""A convolutional Q-network for image observations (Mnih et al. 2015: convolutions over the screen, then fully
connected layers, one Q-value per action), sized for small pictures such as the pixel gridworld: 3x3
convolutions with padding (no downsampling), then an MLP head."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from nnlab.errors import ConfigError
from nnlab.models.rl.registry import RL_MODELS


class ConvQNetwork(nn.Module):
    """Q(s, .) from flat observations reshaped to ``obs_shape``: (B, C*H*W) -> (B, num_actions)."""

    def __init__(self, obs_shape: Sequence[int], num_actions: int, channels: Sequence[int], hidden: int) -> None:
        super().__init__()
        self.obs_shape = tuple(obs_shape)
        c, h, w = self.obs_shape
        layers: list[nn.Module] = []
        for out in channels:
            layers += [nn.Conv2d(c, out, 3, padding=1), nn.ReLU()]
            c = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, hidden), nn.ReLU(), nn.Linear(hidden, num_actions))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.float().reshape(-1, *self.obs_shape)  # (B, C, H, W)
        return self.head(self.features(x))  # (B, A)


@RL_MODELS.register("qcnn")
def qcnn(*, obs_size: int, num_actions: int, obs_shape: Sequence[int] | None = None,
         channels: Sequence[int] = (16, 32), hidden: int = 64) -> ConvQNetwork:
    """A Q-network over image observations (C, H, W); ``obs_shape`` comes from the environment."""
    if obs_shape is None or len(obs_shape) != 3:
        raise ConfigError(f"model qcnn reads image observations (C, H, W); this environment's are "
                          f"{list(obs_shape or [obs_size])} (use env: gridworld with rl.env_args.pixels: true)")
    return ConvQNetwork(obs_shape, num_actions, tuple(channels), hidden)
