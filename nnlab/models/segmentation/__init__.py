"""Semantic segmentation models by name (``SEGMENTERS``): FCN-32s/16s/8s, SegNet, U-Net; their losses."""
from nnlab.models.segmentation import fcn, segnet, unet  # noqa: F401
from nnlab.models.segmentation.registry import SEGMENTERS

__all__ = ["SEGMENTERS"]
