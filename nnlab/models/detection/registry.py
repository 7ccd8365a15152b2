"""The detector registry: ``model.name`` of a ``task: detect`` config. Builders are functions registered at
their definition, ``@DETECTORS.register("name") def name(*, classes: int, ...)``: ``classes`` is K (0-based
labels, no background) plus each detector's own options by keyword."""
from torch import nn

from nnlab.registry import Registry

DETECTORS: Registry[nn.Module] = Registry("detector")
