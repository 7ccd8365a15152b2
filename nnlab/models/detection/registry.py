"""The detector registry: ``@DETECTORS.register("name") def name(*, classes: int, ...)``."""
from torch import nn

from nnlab.registry import Registry

DETECTORS: Registry[nn.Module] = Registry("detector")
