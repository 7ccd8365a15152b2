"""The model registry. Every builder takes ``num_classes``, ``in_chans`` and ``input_size`` (H, W),
plus its own options by keyword."""
from torch import nn

from nnlab.registry import Registry

MODELS: Registry[nn.Module] = Registry("model")
DATA_ARGS = ("num_classes", "in_chans", "input_size")
