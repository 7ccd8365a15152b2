"""Models that reconstruct or generate images; each family registers itself in ``GENERATIVE``."""
from nnlab.models.generative import autoencoder, dcgan, pixelcnn, pixelrnn, vae  # noqa: F401
from nnlab.models.generative.registry import GENERATIVE

__all__ = ["GENERATIVE"]
