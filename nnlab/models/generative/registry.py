"""Generative models by name: builders take ``in_chans`` and ``input_size`` (H, W), no classes."""
from torch import nn

from nnlab.registry import Registry

GENERATIVE: Registry[nn.Module] = Registry("generative model")
