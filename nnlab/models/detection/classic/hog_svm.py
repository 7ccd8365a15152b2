"""HOG + linear SVM, the Dalal-Triggs pipeline (Dalal & Triggs 2005; notes: HOG, "DPM: HOG + SVM"): HOG features
(scikit-image) of every box warped to a fixed window, a linear SVM (scikit-learn LinearSVC) against random
background windows, rounds of hard-negative mining (the false positives the current SVM finds on the training
images become negatives), then the SVM slid over an image pyramid, one cell per step, and NMS.

Sliding reads each window's blocks from one HOG of the whole level (the usual speed-up): a window's features then
differ from a HOG of its crop only in the gradients of its outermost pixels. scikit-image and scikit-learn are
imported when used."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn
from torchvision.ops import box_iou

from nnlab.errors import ConfigError, UserError
from nnlab.models.detection.classic.base import (
    ClassicDetector, Images, Target, check_targets, image_list, nms_result, random_windows, svm_planes, to_float,
    warp_crops,
)
from nnlab.models.registry import DETECTORS


class HogSvm(ClassicDetector):
    """``window`` (h, w) in pixels, a multiple of ``cell``; the pyramid runs scales ``min_scale``,
    ``min_scale * scale_step``, ... while the window fits (a scale s finds objects of s x the window)."""

    fit_mode = "fit"

    def __init__(self, classes: int, window: Sequence[int] = (32, 32), cell: int = 8, block: int = 2,
                 orientations: int = 9, C: float = 1.0, mining_rounds: int = 2, negatives_per_image: int = 10,
                 hard_negatives_per_image: int = 20, min_scale: float = 1.0, scale_step: float = 1.25,
                 score_threshold: float = 0.0, iou_threshold: float = 0.3, max_detections: int = 100,
                 seed: int = 0) -> None:
        super().__init__()
        if window[0] % cell or window[1] % cell or min(window) < cell * block or scale_step <= 1 or min_scale <= 0:
            raise ConfigError(f"hog_svm needs a window that is a multiple of the cell ({cell}) and at least one block "
                              f"({cell * block} px) per side, scale_step > 1 and min_scale > 0; got window "
                              f"{list(window)}, scale_step {scale_step}, min_scale {min_scale}")
        self.classes, self.window, self.cell, self.block, self.orientations = classes, tuple(window), cell, block, \
            orientations
        self.C, self.mining_rounds, self.seed = C, mining_rounds, seed
        self.negatives_per_image, self.hard_negatives_per_image = negatives_per_image, hard_negatives_per_image
        self.min_scale, self.scale_step = min_scale, scale_step
        self.score_threshold, self.iou_threshold, self.max_detections = score_threshold, iou_threshold, max_detections
        self.register_buffer("weight", torch.zeros(classes, self.dim))  # (K, D) per-class SVM planes, set by fit
        self.register_buffer("bias", torch.zeros(classes))
        self.register_buffer("trained", torch.tensor(False))

    def hog(self, x: torch.Tensor, feature_vector: bool = True) -> np.ndarray:
        """scikit-image's HOG of a (C, h, w) float image (colour: the strongest channel gradient, as in the paper)."""
        from skimage.feature import hog

        arr = x.permute(1, 2, 0).double().cpu().numpy()
        return hog(arr if arr.shape[2] > 1 else arr[:, :, 0], orientations=self.orientations,
                   pixels_per_cell=(self.cell, self.cell), cells_per_block=(self.block, self.block),
                   block_norm="L2-Hys", feature_vector=feature_vector, channel_axis=-1 if arr.shape[2] > 1 else None)

    def crop_features(self, image: torch.Tensor, boxes: torch.Tensor) -> np.ndarray:
        """Boxes of a (C, H, W) float image warped to the window -> HOG rows (n, D)."""
        crops = warp_crops(image, boxes, self.window)
        return np.stack([self.hog(c) for c in crops]) if len(crops) else np.zeros((0, self.dim))

    @property
    def dim(self) -> int:
        by, bx = self.window[0] // self.cell - self.block + 1, self.window[1] // self.cell - self.block + 1
        return by * bx * self.block * self.block * self.orientations

    def dense_features(self, x: torch.Tensor) -> tuple[np.ndarray, int, int]:
        """Every window (one cell apart) of a (C, h, w) level from one HOG: rows (ny*nx, D), ny, nx."""
        blocks = self.hog(x, feature_vector=False)  # (By, Bx, b, b, o)
        nby, nbx = self.window[0] // self.cell - self.block + 1, self.window[1] // self.cell - self.block + 1
        win = np.lib.stride_tricks.sliding_window_view(blocks, (nby, nbx), axis=(0, 1))  # (ny, nx, b, b, o, nby, nbx)
        win = np.moveaxis(win, (5, 6), (2, 3))  # (ny, nx, nby, nbx, b, b, o): the order of a crop's feature vector
        return np.array(win).reshape(win.shape[0] * win.shape[1], -1), win.shape[0], win.shape[1]

    def scales(self, height: int, width: int) -> list[float]:
        out, s = [], self.min_scale
        while height / s >= self.window[0] and width / s >= self.window[1]:
            out.append(s)
            s *= self.scale_step
        if not out:
            raise UserError(f"the {self.window[0]}x{self.window[1]} HOG window is larger than the {height}x{width} "
                            f"image at every scale from {self.min_scale:g}: use a smaller window or min_scale")
        return out

    def windows(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every pyramid window of one (C, H, W) float image: xyxy boxes (n, 4) and SVM scores (n, K)."""
        h, w = image.shape[1:]
        all_boxes, all_scores = [], []
        for s in self.scales(h, w):
            size = (round(h / s), round(w / s))
            x = image if size == (h, w) else nn.functional.interpolate(
                image[None], size=size, mode="bilinear", align_corners=False, antialias=s > 1)[0]
            feats, ny, nx = self.dense_features(x)
            fy, fx = h / size[0], w / size[1]
            i, j = torch.meshgrid(torch.arange(ny), torch.arange(nx), indexing="ij")
            x1, y1 = j.flatten() * self.cell * fx, i.flatten() * self.cell * fy
            all_boxes.append(torch.stack([x1, y1, x1 + self.window[1] * fx, y1 + self.window[0] * fy], 1).float())
            all_scores.append(torch.from_numpy(feats).float() @ self.weight.cpu().T + self.bias.cpu())  # (n, K)
        return torch.cat(all_boxes), torch.cat(all_scores)

    def forward(self, images: Images) -> list[Target]:
        if not self.trained:
            raise UserError("hog_svm has not been trained: call fit(images, targets) first")
        out = []
        for image in image_list(images):
            boxes, scores = self.windows(to_float(image).cpu())
            idx, k = torch.nonzero(scores >= self.score_threshold, as_tuple=True)
            out.append(nms_result(boxes[idx], scores[idx, k], k, self.iou_threshold, self.max_detections))
        return out

    def fit(self, images: Images, targets: list[Target]) -> dict[str, float]:
        """Positives, random negatives, then ``mining_rounds`` rounds of hard negatives. Returns how many of each."""
        items = [to_float(im).cpu() for im in image_list(images)]
        check_targets(items, targets, self.classes)
        gen = torch.Generator().manual_seed(self.seed)
        pos = [self.crop_features(im, t["boxes"]) for im, t in zip(items, targets)]
        pos_y = np.concatenate([t["labels"].numpy() for t in targets])
        neg = [self.crop_features(im, self._background(im, t["boxes"], gen)) for im, t in zip(items, targets)]
        if not len(pos_y):
            raise UserError("hog_svm needs at least one box to learn from")
        stats = {"positives": float(len(pos_y)), "negatives": float(sum(len(n) for n in neg))}
        self._train(np.concatenate(pos), pos_y, np.concatenate(neg))
        for r in range(self.mining_rounds):
            hard = [self._hard_negatives(im, t["boxes"]) for im, t in zip(items, targets)]
            stats[f"hard_negatives_round{r + 1}"] = float(sum(len(h) for h in hard))
            if not stats[f"hard_negatives_round{r + 1}"]:
                break
            neg += hard
            self._train(np.concatenate(pos), pos_y, np.concatenate(neg))
        return stats

    def _background(self, image: torch.Tensor, boxes: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        cand = random_windows(image.shape[1], image.shape[2], self.window, 4 * self.negatives_per_image, gen)
        if len(boxes):
            cand = cand[box_iou(cand, boxes.float()).max(1).values < 0.3]
        return cand[: self.negatives_per_image]

    def _hard_negatives(self, image: torch.Tensor, boxes: torch.Tensor) -> np.ndarray:
        """The highest-scoring windows that overlap no object (IoU < 0.3) and the SVM does not reject by its
        margin (score > -1): the false positives of the current SVM."""
        wins, scores = self.windows(image)
        best = scores.max(1).values
        ok = best > -1.0
        if len(boxes):
            ok &= box_iou(wins, boxes.float()).max(1).values < 0.3
        idx = torch.nonzero(ok).flatten()
        idx = idx[best[idx].argsort(descending=True)][: self.hard_negatives_per_image]
        return self.crop_features(image, wins[idx])

    def _train(self, pos: np.ndarray, pos_y: np.ndarray, neg: np.ndarray) -> None:
        weight, bias = svm_planes(np.concatenate([pos, neg]), np.concatenate([pos_y, np.full(len(neg), self.classes)]),
                                  self.classes, self.C, self.seed)
        self.weight.copy_(weight)
        self.bias.copy_(bias)
        self.trained.fill_(True)


@DETECTORS.register("hog_svm")
def hog_svm(*, classes: int, window: tuple[int, int] = (32, 32), cell: int = 8, block: int = 2,
            orientations: int = 9, C: float = 1.0, mining_rounds: int = 2, negatives_per_image: int = 10,
            hard_negatives_per_image: int = 20, min_scale: float = 1.0, scale_step: float = 1.25,
            score_threshold: float = 0.0, iou_threshold: float = 0.3, seed: int = 0) -> HogSvm:
    """HOG + linear SVM with hard-negative mining, trained by ``fit`` on any box dataset."""
    return HogSvm(classes, window, cell, block, orientations, C, mining_rounds, negatives_per_image,
                  hard_negatives_per_image, min_scale, scale_step, score_threshold, iou_threshold, seed=seed)
