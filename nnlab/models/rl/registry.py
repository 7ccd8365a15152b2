"""Reinforcement-learning networks by name: builders take ``obs_size`` and ``num_actions``."""
from torch import nn

from nnlab.registry import Registry

RL_MODELS: Registry[nn.Module] = Registry("rl model")
