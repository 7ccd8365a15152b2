"""Detection models: ``Detector(backbone, neck, head)`` and the ``DETECTORS`` registry."""
from nnlab.models.detection import detectnet, one_stage, rcnn, yolo  # noqa: F401
from nnlab.models.detection.registry import DETECTORS

__all__ = ["DETECTORS"]
