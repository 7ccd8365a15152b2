"""Optimizers as data (timm style): a table of entries and one ``build_optimizer``."""
from nnlab.optim.factory import OPTIMIZERS, OptimizerEntry, build_optimizer, check_options

__all__ = ["OPTIMIZERS", "OptimizerEntry", "build_optimizer", "check_options"]
