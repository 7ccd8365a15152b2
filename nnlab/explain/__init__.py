"""Visualizing and understanding classifiers, detectors and segmenters (CS231n): attribution maps, filters,
activations, embeddings, nearest neighbours, maximally activating patches, class-model visualization, and the
checks that say whether a map means anything (sanity checks, pointing game). Above the API layer: runs are opened with ``nnlab.load_run``."""
from nnlab.explain.attribution import METHODS, Options, attribute, gradcam_plus_plus
from nnlab.explain.common import Explained, open_classifier
from nnlab.explain.dream import Objective, Regularizers, dream
from nnlab.explain.maps import Request, explain_images
from nnlab.explain.pointing import pointing_hits
from nnlab.explain.sanity import cascading_randomization, label_randomization
from nnlab.explain.segmentation import PixelClassScore, explain_pixels

__all__ = ["METHODS", "Explained", "Objective", "Options", "PixelClassScore", "Regularizers", "Request", "attribute",
           "cascading_randomization", "dream", "explain_images", "explain_pixels", "gradcam_plus_plus",
           "label_randomization", "open_classifier", "pointing_hits"]
