"""The detector registry: ``model.name`` of a ``task: detect`` config. Builders take ``classes`` (K, 0-based
labels, no background) plus their own options by keyword."""
from torch import nn

from nnlab.registry import Registry

DETECTORS: Registry[nn.Module] = Registry("detector")
