"""Detection models by name (``DETECTORS``): the classic detectors (sliding window to R-CNN) and the learned
``Detector(backbone, neck, head)`` family. The package imports every detector module explicitly."""
from nnlab.models.detection import detectnet, mask_rcnn, one_stage, peers, rcnn, yolo  # noqa: F401
from nnlab.models.detection.classic import (  # noqa: F401
    cls_loc, convolutional, haar, hog_people, hog_svm, rcnn as classic_rcnn, sliding_window,
)
from nnlab.models.registry import DETECTORS

__all__ = ["DETECTORS"]
