"""Classification + localization (notes: "one more FC layer with 4 outputs"): a zoo backbone, its class head
and a 4-output box head on the same pooled features. One object per image; trained by its loss."""
from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import box_convert, generalized_box_iou_loss

from nnlab.errors import ConfigError, UserError
from nnlab.models import MODELS
from nnlab.models.cnn.base import Classifier
from nnlab.models.detection.classic.base import (
    ClassicDetector, Images, Target, check_targets, image_list, predicted_iou, to_float,
)
from nnlab.models.registry import DETECTORS

BOX_LOSSES = ("smooth_l1", "giou")


class ClsLoc(ClassicDetector):
    """``backbone.forward_head(features, pre_logits=True)`` feeds the backbone's own classifier (K outputs) and a
    Linear box head whose sigmoid outputs are (cx, cy, w, h) as fractions of the image side."""

    fit_mode = "loss"

    def __init__(self, backbone: Classifier, classes: int, box_loss: str = "smooth_l1", box_weight: float = 1.0,
                 score_threshold: float = 0.0) -> None:
        super().__init__()
        if not isinstance(backbone, Classifier):
            raise UserError(f"cls_loc needs a zoo CNN backbone (forward_features / forward_head), got "
                            f"{type(backbone).__name__}")
        if box_loss not in BOX_LOSSES:
            raise ConfigError(f"config key 'model.box_loss' got {box_loss!r}, expected one of {', '.join(BOX_LOSSES)}")
        self.classes, self.box_loss, self.box_weight, self.score_threshold = classes, box_loss, box_weight, \
            score_threshold
        if backbone.get_classifier().out_features != classes:
            backbone.reset_classifier(classes)
        self.backbone = backbone
        self.box_head = nn.Linear(backbone.get_classifier().in_features, 4)

    def heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C, H, W) -> class logits (B, K) and xyxy boxes in pixels (B, 4)."""
        feats = self.backbone.forward_head(self.backbone.forward_features(x), pre_logits=True)  # (B, D)
        logits = self.backbone.get_classifier()(feats)
        cxcywh = torch.sigmoid(self.box_head(feats))  # (B, 4) fractions of the image
        scale = x.new_tensor([x.shape[3], x.shape[2], x.shape[3], x.shape[2]])
        return logits, box_convert(cxcywh, "cxcywh", "xyxy") * scale

    def forward(self, images: Images, targets: list[Target] | None = None) -> dict[str, torch.Tensor] | list[Target]:
        x = torch.stack([to_float(im) for im in image_list(images)])  # (B, C, H, W)
        logits, boxes = self.heads(x)
        if self.training and targets is not None:
            return self.losses(x, logits, boxes, targets)
        probs = logits.softmax(1)
        scores, labels = probs.max(1)
        out = []
        for i in range(len(x)):  # one box per image, dropped when its score is under the threshold
            keep = scores[i: i + 1] >= self.score_threshold
            out.append({"boxes": boxes[i: i + 1][keep], "scores": scores[i: i + 1][keep],
                        "labels": labels[i: i + 1][keep]})
        return out

    def losses(self, x: torch.Tensor, logits: torch.Tensor, boxes: torch.Tensor,
               targets: list[Target]) -> dict[str, torch.Tensor]:
        """Cross-entropy on the class + smooth L1 (on image-normalized xyxy) or GIoU on the box. Each image's
        largest box is its object; images without boxes add no loss."""
        check_targets(list(x), targets, self.classes)
        has = [i for i, t in enumerate(targets) if len(t["boxes"])]
        if not has:
            zero = logits.sum() * 0.0
            return {"loss_cls": zero, "loss_box": zero}
        gt_boxes, gt_labels = [], []
        for i in has:
            b = targets[i]["boxes"].float()
            j = int(((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])).argmax())
            gt_boxes.append(b[j])
            gt_labels.append(targets[i]["labels"][j])
        gt = torch.stack(gt_boxes).to(x.device)  # (M, 4)
        pred = boxes[has]
        if self.box_loss == "giou":
            loss_box = generalized_box_iou_loss(pred, gt, reduction="mean")
        else:
            scale = x.new_tensor([x.shape[3], x.shape[2], x.shape[3], x.shape[2]])
            loss_box = nn.functional.smooth_l1_loss(pred / scale, gt / scale, beta=1.0 / 9)
        loss_cls = nn.functional.cross_entropy(logits[has], torch.stack(gt_labels).long().to(x.device))
        return {"loss_cls": loss_cls, "loss_box": self.box_weight * loss_box}

    @staticmethod
    def iou(predictions: list[Target], targets: list[Target]) -> torch.Tensor:
        """IoU of each predicted box with the image's first ground-truth box (N,)."""
        return predicted_iou(predictions, targets)


@DETECTORS.register("cls_loc")
def cls_loc(*, classes: int, in_chans: int = 3, input_size: tuple[int, int] = (64, 64), backbone: str = "resnet18",
            box_loss: str = "smooth_l1", box_weight: float = 1.0, score_threshold: float = 0.0) -> ClsLoc:
    """Classification + localization on a fresh zoo backbone (``backbone`` is any CNN in the model registry)."""
    net = MODELS.build(backbone, num_classes=classes, in_chans=in_chans, input_size=tuple(input_size))
    return ClsLoc(net, classes, box_loss, box_weight, score_threshold)
