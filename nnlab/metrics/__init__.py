"""Task metrics checked against their reference libraries: detection AP / AR (pycocotools' COCOeval)."""
from nnlab.metrics.detection import DetectionEval, evaluate_detections

__all__ = ["DetectionEval", "evaluate_detections"]
