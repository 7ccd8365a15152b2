"""R-CNN (Girshick et al. 2014; notes: "입력 이미지에서 2000개의 구역을 추출 (selective search) -> warp -> CNN ->
SVM + bbox regression"): selective-search proposals (OpenCV contrib, fast mode), each warped to the CNN's input
size; a zoo CNN fine-tuned on proposals labelled by IoU (>= ``fg_iou`` its box's class, < ``bg_iou`` background,
between: unused); one-vs-rest linear SVMs (scikit-learn) on the CNN's penultimate features (positives: the
ground-truth boxes, negatives: proposals under ``bg_iou`` with every box); per-class ridge box regression
(scikit-learn) of (dx, dy, dw, dh) from proposals with IoU >= ``reg_iou``. Slow on purpose: one CNN pass per
proposal is what Fast / Faster R-CNN remove."""
from __future__ import annotations

import ctypes
import math
from typing import Sequence

import numpy as np
import torch
from torchvision.ops import box_iou, clip_boxes_to_image

from nnlab.errors import UserError
from nnlab.models import MODELS
from nnlab.models.cnn.base import Classifier
from nnlab.models.detection.classic.base import (
    ClassicDetector, Images, Target, check_targets, image_list, nms_result, svm_planes, to_float, to_uint8_hwc,
    train_classifier, warp_crops,
)
from nnlab.models.registry import DETECTORS

BBOX_CLIP = math.log(1000.0 / 16)  # the largest dw, dh decoded (as torchvision's BoxCoder)


def encode(proposals: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """The paper's regression targets of ``boxes`` relative to ``proposals`` (both xyxy (n, 4)): (n, 4) of
    dx = (gx - px) / pw, dy = (gy - py) / ph, dw = log(gw / pw), dh = log(gh / ph) (centres and sizes)."""
    pw, ph = proposals[:, 2] - proposals[:, 0], proposals[:, 3] - proposals[:, 1]
    px, py = proposals[:, 0] + 0.5 * pw, proposals[:, 1] + 0.5 * ph
    gw, gh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    gx, gy = boxes[:, 0] + 0.5 * gw, boxes[:, 1] + 0.5 * gh
    return torch.stack([(gx - px) / pw, (gy - py) / ph, torch.log(gw / pw), torch.log(gh / ph)], 1)


def decode(proposals: torch.Tensor, deltas: torch.Tensor) -> torch.Tensor:
    """Inverse of ``encode``: proposals (n, 4) + deltas (n, 4) -> xyxy boxes (n, 4)."""
    pw, ph = proposals[:, 2] - proposals[:, 0], proposals[:, 3] - proposals[:, 1]
    px, py = proposals[:, 0] + 0.5 * pw, proposals[:, 1] + 0.5 * ph
    gx, gy = deltas[:, 0] * pw + px, deltas[:, 1] * ph + py
    gw, gh = pw * deltas[:, 2].clamp(max=BBOX_CLIP).exp(), ph * deltas[:, 3].clamp(max=BBOX_CLIP).exp()
    return torch.stack([gx - 0.5 * gw, gy - 0.5 * gh, gx + 0.5 * gw, gy + 0.5 * gh], 1)


def _seed_c_rand(seed: int) -> None:
    """OpenCV's selective search ranks its proposals with C's ``rand()`` (the paper's randomized ranking):
    seeding it makes "the first N proposals" repeatable."""
    try:
        ctypes.CDLL(None).srand(seed)
    except (OSError, AttributeError):  # no C library symbols to reach (the ranking then varies run to run)
        pass


def selective_search(image: torch.Tensor, limit: int, max_side: int, seed: int = 0) -> torch.Tensor:
    """OpenCV contrib's selective search (fast mode) on a (C, H, W) image resized so that its longer side is
    ``max_side``: the first ``limit`` proposals as xyxy boxes (m, 4) in the image's pixels."""
    import cv2

    arr = to_uint8_hwc(image)
    arr = np.repeat(arr, 3, 2) if arr.shape[2] == 1 else arr[:, :, 2::-1]  # BGR
    h, w = arr.shape[:2]
    f = max_side / max(h, w)
    small = cv2.resize(arr, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    ss.setBaseImage(np.ascontiguousarray(small))
    ss.switchToSelectiveSearchFast()
    _seed_c_rand(seed)
    rects = torch.as_tensor(ss.process()[:limit], dtype=torch.float32).reshape(-1, 4)  # (m, 4) x, y, w, h
    boxes = torch.cat([rects[:, :2], rects[:, :2] + rects[:, 2:]], 1)
    boxes *= torch.tensor([w / small.shape[1], h / small.shape[0]] * 2)
    return boxes[(boxes[:, 2] - boxes[:, 0] >= 2) & (boxes[:, 3] - boxes[:, 1] >= 2)]


class RCNN(ClassicDetector):
    """``backbone``: a zoo CNN with ``classes`` + 1 outputs (background last) on ``crop``-sized inputs."""

    fit_mode = "fit"

    def __init__(self, backbone: Classifier, classes: int, crop: Sequence[int] = (32, 32), proposals: int = 2000,
                 ss_size: int = 500, fg_iou: float = 0.5, bg_iou: float = 0.3, reg_iou: float = 0.6,
                 epochs: int = 5, lr: float = 1e-3, svm_C: float = 1.0, reg_lambda: float = 1000.0,
                 score_threshold: float = 0.0, iou_threshold: float = 0.3, max_detections: int = 100,
                 seed: int = 0) -> None:
        super().__init__()
        if not isinstance(backbone, Classifier) or backbone.get_classifier().out_features != classes + 1:
            raise UserError(f"rcnn needs a zoo CNN with {classes + 1} outputs (the classes and background), got "
                            f"{type(backbone).__name__}")
        self.backbone, self.classes, self.crop = backbone, classes, tuple(crop)
        self.proposals, self.ss_size, self.fg_iou, self.bg_iou, self.reg_iou = proposals, ss_size, fg_iou, bg_iou, \
            reg_iou
        self.epochs, self.lr, self.svm_C, self.reg_lambda, self.seed = epochs, lr, svm_C, reg_lambda, seed
        self.score_threshold, self.iou_threshold, self.max_detections = score_threshold, iou_threshold, max_detections
        dim = backbone.get_classifier().in_features
        self.register_buffer("svm_weight", torch.zeros(classes, dim))  # (K, D)
        self.register_buffer("svm_bias", torch.zeros(classes))
        self.register_buffer("reg_weight", torch.zeros(classes, 4, dim))  # (K, 4, D): deltas from features
        self.register_buffer("reg_bias", torch.zeros(classes, 4))
        self.register_buffer("feat_scale", torch.ones(()))  # features / mean training norm, as the paper scales them
        self.register_buffer("trained", torch.tensor(False))

    def propose(self, image: torch.Tensor) -> torch.Tensor:
        return selective_search(image, self.proposals, self.ss_size, self.seed)

    @torch.no_grad()
    def features(self, image: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """Warped crops of one float (C, H, W) image -> scaled penultimate CNN features (n, D), on the CPU."""
        self.backbone.eval()
        crops = warp_crops(image.cpu(), boxes.cpu(), self.crop)  # (n, C, h, w)
        if not len(crops):
            return torch.zeros(0, self.svm_weight.shape[1])
        device = self.svm_weight.device
        net = self.backbone
        feats = torch.cat([net.forward_head(net.forward_features(c.to(device)), pre_logits=True)
                           for c in crops.split(256)])  # (n, D)
        return (feats / self.feat_scale).cpu()

    def proposal_recall(self, images: Images, targets: list[Target], iou: float = 0.5) -> float:
        """Share of ground-truth boxes that some proposal overlaps by IoU >= ``iou`` (the ceiling on recall)."""
        found = total = 0
        for image, t in zip(image_list(images), targets):
            if len(t["boxes"]):
                props = self.propose(image)
                total += len(t["boxes"])
                found += int((box_iou(t["boxes"].float(), props).max(1).values >= iou).sum()) if len(props) else 0
        return found / max(total, 1)

    def forward(self, images: Images) -> list[Target]:
        if not self.trained:
            raise UserError("rcnn has not been trained: call fit(images, targets) first")
        out = []
        for image in image_list(images):
            x = to_float(image)
            props = self.propose(image)
            feats = self.features(x, props)  # (n, D)
            scores = feats @ self.svm_weight.cpu().T + self.svm_bias.cpu()  # (n, K)
            deltas = torch.einsum("nd,kjd->nkj", feats, self.reg_weight.cpu()) + self.reg_bias.cpu()  # (n, K, 4)
            idx, k = torch.nonzero(scores >= self.score_threshold, as_tuple=True)
            boxes = clip_boxes_to_image(decode(props[idx], deltas[idx, k]), tuple(x.shape[1:]))
            out.append(nms_result(boxes, scores[idx, k], k, self.iou_threshold, self.max_detections))
        return out

    def fit(self, images: Images, targets: list[Target]) -> dict[str, float]:
        """Proposals -> fine-tune the CNN -> SVMs -> box regressors. Returns what each stage saw."""
        items = [im.cpu() for im in image_list(images)]
        check_targets(items, targets, self.classes)
        if not sum(len(t["boxes"]) for t in targets):
            raise UserError("rcnn needs at least one box to learn from")
        props = [self.propose(im) for im in items]
        found = sum(int((box_iou(t["boxes"].float(), p).max(1).values >= 0.5).sum()) if len(p) else 0
                    for p, t in zip(props, targets) if len(t["boxes"]))
        stats = {"proposals_per_image": sum(map(len, props)) / len(items),
                 "proposal_recall": found / sum(len(t["boxes"]) for t in targets)}
        stats["finetune_loss"] = self._finetune(items, props, targets)
        stats.update(self._fit_heads(items, props, targets))
        self.trained.fill_(True)
        return stats

    def _label(self, props: torch.Tensor, t: Target) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each proposal's best IoU with a box, that box's index and its fine-tuning label (-1: unused)."""
        if not len(t["boxes"]) or not len(props):
            n = len(props)
            return torch.zeros(n), torch.zeros(n, dtype=torch.long), torch.full((n,), self.classes)
        best, arg = box_iou(props, t["boxes"].float()).max(1)
        label = torch.full((len(props),), -1)
        label[best >= self.fg_iou] = t["labels"][arg[best >= self.fg_iou]]
        label[best < self.bg_iou] = self.classes
        return best, arg, label

    def _finetune(self, items: list[torch.Tensor], props: list[torch.Tensor], targets: list[Target]) -> float:
        """Fine-tune on warped proposals + ground-truth boxes, background sampled at up to 3x the objects."""
        gen = torch.Generator().manual_seed(self.seed)
        xs, ys = [], []
        for image, p, t in zip(items, props, targets):
            _, _, label = self._label(p, t)
            fg, bg = torch.nonzero((label >= 0) & (label < self.classes)).flatten(), torch.nonzero(
                label == self.classes).flatten()
            bg = bg[torch.randperm(len(bg), generator=gen)[: 3 * max(len(fg) + len(t["boxes"]), 2)]]
            boxes = torch.cat([t["boxes"].float(), p[fg], p[bg]])
            xs.append(warp_crops(to_float(image), boxes, self.crop))
            ys.append(torch.cat([t["labels"].long(), label[fg], label[bg]]))
        return train_classifier(self.backbone, torch.cat(xs), torch.cat(ys), self.epochs, self.lr, seed=self.seed)

    def _fit_heads(self, items: list[torch.Tensor], props: list[torch.Tensor],
                   targets: list[Target]) -> dict[str, float]:
        """Linear SVMs on ground truth vs background proposals, then per-class ridge box regression."""
        from sklearn.linear_model import Ridge

        self.feat_scale.fill_(1.0)
        feats = [self.features(to_float(im), torch.cat([t["boxes"].float(), p])) for im, p, t in
                 zip(items, props, targets)]
        self.feat_scale.fill_(float(torch.cat(feats).norm(dim=1).mean()) / 20.0)  # mean norm 20, as in the paper
        feats = [f / self.feat_scale.cpu() for f in feats]
        x_svm, y_svm, x_reg, t_reg, k_reg = [], [], [], [], []
        for f, p, t in zip(feats, props, targets):
            n_gt = len(t["boxes"])
            best, arg, label = self._label(p, t)
            keep = label == self.classes
            x_svm += [f[:n_gt], f[n_gt:][keep]]
            y_svm += [t["labels"].long(), label[keep]]
            near = best >= self.reg_iou
            x_reg.append(f[n_gt:][near])
            t_reg.append(encode(p[near], t["boxes"][arg[near]].float()) if n_gt else torch.zeros(0, 4))
            k_reg.append(t["labels"][arg[near]] if n_gt else torch.zeros(0, dtype=torch.long))
        weight, bias = svm_planes(torch.cat(x_svm).numpy(), torch.cat(y_svm).numpy(), self.classes, self.svm_C,
                                  self.seed)
        self.svm_weight.copy_(weight)
        self.svm_bias.copy_(bias)
        x_reg, t_reg, k_reg = torch.cat(x_reg), torch.cat(t_reg), torch.cat(k_reg)
        for k in range(self.classes):
            sel = k_reg == k
            if int(sel.sum()) >= 2:
                ridge = Ridge(alpha=self.reg_lambda).fit(x_reg[sel].numpy(), t_reg[sel].numpy())
                self.reg_weight[k] = torch.from_numpy(ridge.coef_).float()
                self.reg_bias[k] = torch.from_numpy(ridge.intercept_).float()
        return {"svm_positives": float(sum(len(t["boxes"]) for t in targets)),
                "svm_negatives": float(len(torch.cat(y_svm))) - sum(len(t["boxes"]) for t in targets),
                "regression_samples": float(len(k_reg))}


@DETECTORS.register("rcnn")
def rcnn(*, classes: int, in_chans: int = 3, backbone: str = "lenet5", crop: tuple[int, int] = (32, 32),
         proposals: int = 2000, ss_size: int = 500, epochs: int = 5, lr: float = 1e-3, svm_C: float = 1.0,
         reg_lambda: float = 1000.0, score_threshold: float = 0.0, iou_threshold: float = 0.3) -> RCNN:
    """R-CNN on a fresh zoo ``backbone`` (``classes`` + 1 outputs) that ``fit`` fine-tunes on proposals."""
    net = MODELS.build(backbone, num_classes=classes + 1, in_chans=in_chans, input_size=tuple(crop))
    return RCNN(net, classes, crop, proposals, ss_size, epochs=epochs, lr=lr, svm_C=svm_C, reg_lambda=reg_lambda,
                score_threshold=score_threshold, iou_threshold=iou_threshold)
