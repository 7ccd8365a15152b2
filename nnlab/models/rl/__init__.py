"""Q-networks and policies; each registers itself in ``RL_MODELS``."""
from nnlab.models.rl import cnn, mlp  # noqa: F401
from nnlab.models.rl.registry import RL_MODELS

__all__ = ["RL_MODELS"]
