"""Mask R-CNN (He et al. 2017) from torchvision parts on nnlab backbones and necks: Faster R-CNN (``rcnn.py``)
plus a mask branch, so instance segmentation is detection plus segmentation (each person its own mask).

The branch is torchvision's: ``MultiScaleRoIAlign`` 14x14 -> ``MaskRCNNHeads`` (four 3x3 convolutions) ->
``MaskRCNNPredictor`` (a 2x transposed convolution, one 28x28 mask logit map per class); trained with the
per-pixel binary cross-entropy of the ground-truth class on the positive RoIs (``maskrcnn_loss``). In eval the
RoI heads select the final boxes first (torchvision's ``postprocess_detections``: score threshold, clip,
per-class NMS, ``max_detections``, with the detector's own settings; ``MaskDetector`` does not select again), the
mask branch runs on those boxes only, and each 28x28 mask is pasted
into the image (``paste_masks_in_image``): ``masks`` (m, H, W) probabilities, above 0.5 is in.
Targets need ``masks`` uint8 (n, H, W) (Penn-Fudan and the digit scenes have them).
"""
from __future__ import annotations

from typing import Any

import torch
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.roi_heads import paste_masks_in_image
from torchvision.ops import MultiScaleRoIAlign

from nnlab.errors import UserError
from nnlab.models.detection.assemble import build_parts, finish, uniform_channels
from nnlab.models.detection.detector import Detector, Maps, Targets
from nnlab.models.detection.rcnn import TwoStageHead, box_pool, region_proposals, roi_heads
from nnlab.models.registry import DETECTORS


class MaskHead(TwoStageHead):
    """Faster R-CNN's head whose RoI heads carry the mask branch; outputs gain ``masks`` pasted into the image."""

    def loss(self, maps: Maps, image_size: tuple[int, int], targets: Targets,
             proposals: list[torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        for t in targets:
            if "masks" not in t or t["masks"].shape[-3:] != (len(t["boxes"]), *image_size):
                raise UserError(f"mask_rcnn trains on instance masks: every target needs 'masks' (n, "
                                f"{image_size[0]}, {image_size[1]}) for its n boxes; use a dataset with masks "
                                "(data.dataset: pennfudan or scenes)")
        return super().loss(maps, image_size, targets, proposals)

    def output(self, found: dict[str, torch.Tensor], image_size: tuple[int, int]) -> dict[str, torch.Tensor]:
        out = super().output(found, image_size)
        out["masks"] = paste_masks_in_image(found["masks"], found["boxes"], image_size)[:, 0]  # (m, H, W)
        return out


class MaskDetector(Detector):
    """A Detector whose RoI heads already selected the detections (masks computed for exactly those)."""

    def select(self, c: dict[str, torch.Tensor], size: tuple[int, int]) -> dict[str, torch.Tensor]:
        return {**c, "boxes": c["boxes"].float(), "scores": c["scores"].float(), "labels": c["labels"].long()}


@DETECTORS.register("mask_rcnn")
def mask_rcnn(*, classes: int, in_chans: int = 3, input_size: tuple[int, int] = (128, 128),
              backbone: str = "tiny", neck: str = "fpn", levels: int = 3, width: int = 16, neck_width: int = 64,
              merge: str = "add", anchor_scale: float = 4.0, fc_width: int = 256, mask_width: int = 64,
              rpn_batch: int = 256, rpn_post_nms: int = 300, score_thresh: float = 0.05, nms_thresh: float = 0.5,
              max_detections: int = 100, backbone_options: dict[str, Any] | None = None) -> Detector:
    """Mask R-CNN: ``faster_rcnn``'s options plus ``mask_width`` (channels of the four mask convolutions)."""
    bb, nk = build_parts(backbone, neck, in_chans=in_chans, input_size=input_size, levels=levels, width=width,
                         neck_width=neck_width, merge=merge, backbone_options=backbone_options)
    channels = uniform_channels(nk.out_channels, "mask_rcnn")
    rpn = region_proposals(channels, bb.strides, anchor_scale, input_size, rpn_batch, rpn_post_nms, "mask_rcnn")
    mask_parts = {"mask_roi_pool": MultiScaleRoIAlign(bb.names, output_size=14, sampling_ratio=2),
                  "mask_head": MaskRCNNHeads(channels, (mask_width,) * 4, 1),
                  "mask_predictor": MaskRCNNPredictor(mask_width, mask_width, classes + 1)}
    heads = roi_heads(box_pool(bb), channels * 49, classes, fc_width, score_thresh, nms_thresh, max_detections,
                      **mask_parts)
    return finish(bb, nk, MaskHead(rpn, heads), classes=classes, in_chans=in_chans, input_size=input_size,
                  score_thresh=score_thresh, nms_thresh=nms_thresh, max_detections=max_detections,
                  detector=MaskDetector)
