"""Semantic segmentation models by name (``SEGMENTERS``): FCN-32s/16s/8s, SegNet, U-Net; their losses
(``SEG_LOSSES``, ``build_segmentation_loss``) and the panoptic merge (``panoptic.merge_panoptic``)."""
from nnlab.models.segmentation import fcn, segnet, unet  # noqa: F401
from nnlab.models.segmentation.losses import SEG_LOSSES, build_segmentation_loss
from nnlab.models.segmentation.registry import SEGMENTERS

__all__ = ["SEGMENTERS", "SEG_LOSSES", "build_segmentation_loss"]
