"""Models by name. Each family registers itself; this package imports them explicitly."""
from nnlab.models.classic import knn, linear, mlp  # noqa: F401
from nnlab.models.cnn import alexnet, densenet, googlenet, lenet, resnet, tiny, vgg  # noqa: F401
from nnlab.models.registry import DATA_ARGS, MODELS, check_option_types

__all__ = ["DATA_ARGS", "MODELS", "check_option_types"]
