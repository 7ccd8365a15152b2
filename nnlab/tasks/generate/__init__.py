"""``task: generate``: autoencoders, VAE, PixelCNN and DCGAN (one objective module per model family)."""
from nnlab.tasks.generate.common import Reconstruction, binarize
from nnlab.tasks.generate.task import OBJECTIVES, Generate

__all__ = ["Generate", "OBJECTIVES", "Reconstruction", "binarize"]
