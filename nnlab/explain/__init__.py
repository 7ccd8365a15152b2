"""Visualizing and understanding classifiers (CS231n): attribution maps, filters, activations, embeddings,
nearest neighbours, class-model visualization and the sanity checks that say whether a map means anything.
Above the API layer: runs are opened with ``nnlab.load_run``."""
from nnlab.explain.attribution import METHODS, Options, attribute, gradcam_plus_plus
from nnlab.explain.common import Explained, open_classifier
from nnlab.explain.maps import Request, explain_images

__all__ = ["METHODS", "Explained", "Options", "Request", "attribute", "explain_images", "gradcam_plus_plus",
           "open_classifier"]
