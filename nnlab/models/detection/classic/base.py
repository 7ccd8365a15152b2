"""What every classic detector shares: the declared interface (``ClassicDetector``), input checks, the
conventions' output dicts, NMS into boxes, warped crops and the labelled patches a window classifier learns from.

Images are (N, C, H, W) tensors (or a list of (C, H, W)); uint8 images are scaled to [0, 1] floats for the
network detectors, float images are used as given (already normalized by the task). Targets are the conventions'
list of dicts (``boxes`` float (n, 4) absolute xyxy, ``labels`` int64 (n,) 0-based)."""
from __future__ import annotations

import math
from typing import ClassVar, Sequence

import numpy as np
import torch
from torch import nn
from torchvision.ops import batched_nms, box_iou, roi_align

from nnlab.errors import UserError

Images = torch.Tensor | Sequence[torch.Tensor]
Target = dict[str, torch.Tensor]
FIT_MODES = ("loss", "fit", "pretrained")


class ClassicDetector(nn.Module):
    """The declared interface. ``fit_mode`` says how a task trains it: ``loss`` (``forward(images, targets)`` in
    train mode returns a dict of loss tensors, the engine steps an optimizer), ``fit`` (call
    ``fit(images, targets)`` once; it trains itself and returns a dict of statistics) or ``pretrained`` (nothing
    to train). ``predict(images)`` (= eval-mode ``forward``) returns one dict per image."""

    fit_mode: ClassVar[str] = "fit"
    classes: int

    def fit(self, images: Images, targets: list[Target]) -> dict[str, float]:
        raise UserError(f"{type(self).__name__} is trained through its loss (fit_mode {self.fit_mode!r}), "
                        "not with fit()")

    @torch.no_grad()
    def predict(self, images: Images) -> list[Target]:
        was_training = self.training
        self.eval()
        try:
            return self(images)
        finally:
            self.train(was_training)


def image_list(images: Images) -> list[torch.Tensor]:
    """(N, C, H, W) tensor or list of (C, H, W) tensors -> list of (C, H, W), with a clear error otherwise."""
    items = list(images) if not isinstance(images, torch.Tensor) or images.ndim == 4 else None
    if items is None or any(not isinstance(im, torch.Tensor) or im.ndim != 3 for im in items):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise UserError(f"detectors take images as an (N, C, H, W) tensor or a list of (C, H, W) tensors, got {shape}")
    return items


def to_float(image: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [0, 1]; float images pass unchanged."""
    return image.float() / 255.0 if image.dtype == torch.uint8 else image.float()


def to_uint8_hwc(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) tensor -> (H, W, C) uint8 array for OpenCV / scikit-image. Floats in [0, 1] are scaled by 255,
    other float ranges (normalized images) are stretched per image to 0..255."""
    x = image.detach().cpu()
    if x.dtype != torch.uint8:
        x = x.float()
        lo, hi = float(x.min()), float(x.max())
        if lo < 0 or hi > 1:
            x = (x - lo) / max(hi - lo, 1e-12)
        x = (x * 255).round().clamp(0, 255).to(torch.uint8)
    return np.ascontiguousarray(x.permute(1, 2, 0).numpy())


def to_gray(image: np.ndarray) -> np.ndarray:
    """(H, W, C) uint8 -> (H, W) uint8 (luma for RGB, the channel itself for grey)."""
    if image.shape[2] == 1:
        return image[:, :, 0]
    return np.round(image[:, :, :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).astype(
        np.uint8)


def check_targets(images: list[torch.Tensor], targets: list[Target], classes: int) -> None:
    """One dict per image with (n, 4) boxes and (n,) labels in 0..classes-1."""
    if len(targets) != len(images):
        raise UserError(f"got {len(images)} images but {len(targets)} target dicts")
    for i, t in enumerate(targets):
        if "boxes" not in t or "labels" not in t:
            raise UserError(f"target {i} needs 'boxes' and 'labels', got keys {sorted(t)}")
        boxes, labels = t["boxes"], t["labels"]
        if boxes.ndim != 2 or boxes.shape[1] != 4 or labels.shape != (len(boxes),):
            raise UserError(f"target {i}: boxes must be (n, 4) and labels (n,), got {tuple(boxes.shape)} and "
                            f"{tuple(labels.shape)}")
        if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= classes):
            raise UserError(f"target {i}: label {int(labels.max())} is outside 0..{classes - 1}")


def empty_result(device: torch.device | str = "cpu") -> Target:
    """A well-formed answer for an image with no detections."""
    return {"boxes": torch.zeros(0, 4, device=device), "scores": torch.zeros(0, device=device),
            "labels": torch.zeros(0, dtype=torch.int64, device=device)}


def nms_result(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou_threshold: float,
               max_detections: int) -> Target:
    """Per-class NMS (torchvision's batched_nms), best first, at most ``max_detections``."""
    if len(boxes) == 0:
        return empty_result(boxes.device)
    keep = batched_nms(boxes.float(), scores.float(), labels, iou_threshold)[:max_detections]
    return {"boxes": boxes[keep].float(), "scores": scores[keep].float(), "labels": labels[keep].long()}


def warp_crops(image: torch.Tensor, boxes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Each xyxy box of a (C, H, W) float image warped (anisotropically resized) to ``size``: (n, C, h, w).
    R-CNN's "warp" step; bilinear via torchvision's roi_align."""
    if len(boxes) == 0:
        return image.new_zeros(0, image.shape[0], *size)
    return roi_align(image[None], [boxes.float()], output_size=size, spatial_scale=1.0, sampling_ratio=2,
                     aligned=True)


def random_windows(height: int, width: int, size: tuple[int, int], n: int, gen: torch.Generator) -> torch.Tensor:
    """``n`` random xyxy windows of side ``size`` scaled by 0.5-2x (clipped to the image): background candidates."""
    s = 0.5 + 1.5 * torch.rand(n, generator=gen)
    w = (size[1] * s).clamp(max=width)
    h = (size[0] * s).clamp(max=height)
    x1 = torch.rand(n, generator=gen) * (width - w)
    y1 = torch.rand(n, generator=gen) * (height - h)
    return torch.stack([x1, y1, x1 + w, y1 + h], 1)  # (n, 4)


def labelled_patches(images: Images, targets: list[Target], classes: int, patch: tuple[int, int],
                     negatives_per_image: int = 8, max_iou: float = 0.3, seed: int = 0,
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """The window classifier's training set cut from a box dataset: every box warped to ``patch`` (its label)
    and random windows overlapping no box by IoU >= ``max_iou`` (label ``classes``, the background class).
    Returns float patches (M, C, ph, pw) and labels (M,)."""
    items = image_list(images)
    check_targets(items, targets, classes)
    gen = torch.Generator().manual_seed(seed)
    xs, ys = [], []
    for image, t in zip(items, targets):
        img = to_float(image).cpu()
        cand = random_windows(img.shape[1], img.shape[2], patch, 4 * negatives_per_image, gen)
        if len(t["boxes"]):
            cand = cand[box_iou(cand, t["boxes"].float()).max(1).values < max_iou]
        cand = cand[:negatives_per_image]
        xs += [warp_crops(img, t["boxes"].cpu(), patch), warp_crops(img, cand, patch)]
        ys += [t["labels"].long().cpu(), torch.full((len(cand),), classes, dtype=torch.long)]
    return torch.cat(xs), torch.cat(ys)


def train_classifier(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, lr: float = 1e-3,
                     batch: int = 64, seed: int = 0) -> float:
    """A short Adam + cross-entropy loop on in-memory patches (the detectors that train a window classifier
    themselves: ``sliding_window.fit``, R-CNN's fine-tuning). Returns the last epoch's mean loss."""
    if len(x) == 0:
        raise UserError("no training patches: the dataset has no boxes and no room for background windows")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    model.train()
    mean = float("nan")
    for _ in range(epochs):
        perm, total = torch.randperm(len(x), generator=gen), 0.0
        for i in range(0, len(x), batch):
            idx = perm[i: i + batch]
            loss = nn.functional.cross_entropy(model(x[idx].to(device)), y[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        mean = total / len(x)
    model.eval()
    return mean


def predicted_iou(predictions: list[Target], targets: list[Target]) -> torch.Tensor:
    """IoU of each image's best predicted box with its first ground-truth box (0 where either is missing):
    the classification + localization score the notes report. (N,)"""
    out = torch.zeros(len(targets))
    for i, (p, t) in enumerate(zip(predictions, targets)):
        if len(p["boxes"]) and len(t["boxes"]):
            out[i] = box_iou(p["boxes"][:1].float().cpu(), t["boxes"][:1].float().cpu())[0, 0]
    return out


def svm_planes(x: np.ndarray, y: np.ndarray, classes: int, C: float, seed: int = 0
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """One-vs-rest linear SVMs (scikit-learn LinearSVC) over labels 0..classes, ``classes`` being background.
    Returns the object classes' planes: weight (K, D), bias (K,); a class absent from ``y`` never fires (-inf)."""
    from sklearn.svm import LinearSVC

    svm = LinearSVC(C=C, max_iter=5000, random_state=seed).fit(x, y)
    coef, icpt = svm.coef_, svm.intercept_
    if len(svm.classes_) == 2:  # binary: one plane, positive for the higher label
        coef, icpt = np.concatenate([-coef, coef]), np.concatenate([-icpt, icpt])
    weight, bias = np.zeros((classes, x.shape[1])), np.full(classes, -math.inf)
    for row, k in enumerate(svm.classes_):
        if k < classes:
            weight[k], bias[k] = coef[row], icpt[row]
    return torch.from_numpy(weight).float(), torch.from_numpy(bias).float()


def xywh_result(rects: np.ndarray | tuple, scores: np.ndarray | tuple, labels: torch.Tensor | int,
                iou_threshold: float, max_detections: int) -> Target:
    """OpenCV's (x, y, w, h) rectangles + weights -> the conventions' dict after NMS."""
    boxes = torch.as_tensor(np.asarray(rects, dtype=np.float32).reshape(-1, 4))
    boxes[:, 2:] += boxes[:, :2]  # xywh -> xyxy
    scores_t = torch.as_tensor(np.asarray(scores, dtype=np.float32).reshape(-1))
    if isinstance(labels, int):
        labels = torch.full((len(boxes),), labels, dtype=torch.int64)
    return nms_result(boxes, scores_t, labels, iou_threshold, max_detections)
