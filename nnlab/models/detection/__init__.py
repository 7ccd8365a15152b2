"""Detectors by name (``DETECTORS``). The package imports every detector module explicitly."""
from nnlab.models.detection.classic import (  # noqa: F401
    cls_loc, convolutional, haar, hog_people, hog_svm, rcnn, sliding_window,
)
from nnlab.models.detection.registry import DETECTORS

__all__ = ["DETECTORS"]
