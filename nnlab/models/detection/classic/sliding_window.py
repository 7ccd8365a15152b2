"""A trained classifier slid over the image (DIGITS' first detection approach, notes: 슬라이딩 윈도우): every
``stride`` pixels, at several scales (an image pyramid: the image shrunk by 1/scale, the patch fixed), a window is
cut and classified; the class probabilities form one heatmap per class, thresholded and merged by NMS."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from nnlab.errors import ConfigError, UserError
from nnlab.models import MODELS
from nnlab.models.detection.classic.base import (
    ClassicDetector, Images, Target, image_list, labelled_patches, nms_result, to_float, train_classifier,
)
from nnlab.models.registry import DETECTORS

Level = tuple[float, torch.Tensor]  # (scale, (K, ny, nx) object-class probabilities)


class SlidingWindow(ClassicDetector):
    """Wraps ``classifier`` (patches (B, C, ph, pw) -> logits (B, classes + 1)); output ``background`` is the
    background class (default: the last). ``scale`` s means windows of s x the patch size in the image."""

    fit_mode = "fit"

    def __init__(self, classifier: nn.Module, patch: Sequence[int], classes: int, background: int | None = None,
                 scales: Sequence[float] = (1.0,), stride: int = 4, score_threshold: float = 0.5,
                 iou_threshold: float = 0.3, max_detections: int = 100, batch: int = 512, epochs: int = 10,
                 lr: float = 1e-3, negatives_per_image: int = 8) -> None:
        super().__init__()
        background = classes if background is None else background
        if not 0 <= background <= classes or stride < 1 or not scales or min(scales) <= 0:
            raise ConfigError(f"sliding window needs 0 <= background <= classes ({classes}), stride >= 1 and "
                              f"positive scales; got background {background}, stride {stride}, scales {list(scales)}")
        self.classifier, self.patch, self.classes, self.background = classifier, tuple(patch), classes, background
        self.scales, self.stride, self.batch = tuple(float(s) for s in scales), stride, batch
        self.score_threshold, self.iou_threshold, self.max_detections = score_threshold, iou_threshold, max_detections
        self.epochs, self.lr, self.negatives_per_image = epochs, lr, negatives_per_image

    def fit(self, images: Images, targets: list[Target]) -> dict[str, float]:
        """Train the wrapped classifier on the boxes warped to the patch size + random background windows."""
        x, y = labelled_patches(images, targets, self.classes, self.patch, self.negatives_per_image)
        if self.background != self.classes:  # labelled_patches puts background last
            y = torch.where(y == self.classes, self.background, y + (y >= self.background).long())
        loss = train_classifier(self.classifier, x, y, self.epochs, self.lr)
        return {"patches": float(len(x)), "loss": loss}

    def pyramid(self, image: torch.Tensor) -> list[tuple[float, torch.Tensor]]:
        """(C, H, W) float -> [(scale, image resized by 1/scale)] for every scale at which the patch fits."""
        h, w = image.shape[1:]
        levels = []
        for s in self.scales:
            size = (round(h / s), round(w / s))
            if size[0] >= self.patch[0] and size[1] >= self.patch[1]:
                x = image if size == (h, w) else nn.functional.interpolate(
                    image[None], size=size, mode="bilinear", align_corners=False, antialias=s > 1)[0]
                levels.append((s, x))
        if not levels:
            raise UserError(f"the {self.patch[0]}x{self.patch[1]} window is larger than the {h}x{w} image at every "
                            f"scale {list(self.scales)}: use smaller scales or a larger image")
        return levels

    def score_map(self, x: torch.Tensor) -> torch.Tensor:
        """The sliding loop: every window of a (C, h, w) level through the classifier, in row bands.
        Returns probabilities (classes + 1, ny, nx)."""
        (ph, pw), s = self.patch, self.stride
        ny, nx = (x.shape[1] - ph) // s + 1, (x.shape[2] - pw) // s + 1
        rows = max(1, self.batch // nx)
        out = []
        for r0 in range(0, ny, rows):
            r1 = min(ny, r0 + rows)
            band = x[:, r0 * s: (r1 - 1) * s + ph]  # (C, bh, w)
            cols = nn.functional.unfold(band[None], (ph, pw), stride=s)[0]  # (C*ph*pw, n)
            windows = cols.T.reshape(-1, x.shape[0], ph, pw)  # (n, C, ph, pw), row-major
            out.append(self.classifier(windows).softmax(1))
        probs = torch.cat(out)  # (ny*nx, K+1)
        self._check_outputs(probs.shape[1])
        return probs.T.reshape(-1, ny, nx)

    def _check_outputs(self, k: int) -> None:
        if k != self.classes + 1:
            raise UserError(f"the classifier gives {k} scores per window; a detector of {self.classes} classes "
                            f"needs {self.classes + 1} (the classes and a background class)")

    @torch.no_grad()
    def heatmaps(self, image: torch.Tensor) -> list[Level]:
        """Per scale, the object-class probability maps (classes, ny, nx) of one (C, H, W) image."""
        self.classifier.eval()
        device = next(self.classifier.parameters()).device
        levels = []
        for scale, x in self.pyramid(to_float(image.to(device))):
            probs = self.score_map(x)
            keep = [i for i in range(self.classes + 1) if i != self.background]
            levels.append((scale, probs[keep]))
        return levels

    def windows(self, height: int, width: int) -> int:
        """How many windows one height x width image costs (for windows/s)."""
        (ph, pw), s, n = self.patch, self.stride, 0
        for scale in self.scales:
            h, w = round(height / scale), round(width / scale)
            if h >= ph and w >= pw:
                n += ((h - ph) // s + 1) * ((w - pw) // s + 1)
        return n

    def boxes(self, levels: list[Level], height: int, width: int) -> Target:
        """Threshold each level's heatmaps, map positions back to image boxes, NMS across scales and classes."""
        all_boxes, all_scores, all_labels = [], [], []
        for scale, maps in levels:
            fy, fx = height / round(height / scale), width / round(width / scale)
            k, i, j = torch.nonzero(maps >= self.score_threshold, as_tuple=True)
            x1, y1 = j * self.stride * fx, i * self.stride * fy
            all_boxes.append(torch.stack([x1, y1, x1 + self.patch[1] * fx, y1 + self.patch[0] * fy], 1).float())
            all_scores.append(maps[k, i, j])
            all_labels.append(k)
        return nms_result(torch.cat(all_boxes), torch.cat(all_scores), torch.cat(all_labels), self.iou_threshold,
                          self.max_detections)

    def forward(self, images: Images) -> list[Target]:
        return [self.boxes(self.heatmaps(image), image.shape[1], image.shape[2]) for image in image_list(images)]


def heatmaps_png(levels: list[Level], path: str | Path, classes: Sequence[str] | None = None,
                 image: torch.Tensor | None = None) -> Path:
    """One panel per (scale, class) heatmap (rows: scales), the image first when given. matplotlib is imported
    here only."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    k = levels[0][1].shape[0]
    cols = k + (image is not None)
    fig, axes = plt.subplots(len(levels), cols, figsize=(2.2 * cols, 2.2 * len(levels)), squeeze=False)
    for r, (scale, maps) in enumerate(levels):
        if image is not None:
            shown = to_float(image).permute(1, 2, 0).squeeze(-1).clamp(0, 1).numpy()
            axes[r][0].imshow(shown, cmap="gray")
            axes[r][0].set_title("image", fontsize=8)
        for c in range(k):
            ax = axes[r][c + (image is not None)]
            ax.imshow(maps[c].numpy(), vmin=0, vmax=1, cmap="magma")
            ax.set_title(f"{classes[c] if classes else c} @ x{scale:g}", fontsize=8)
    for ax in fig.axes:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def window_classifier(name: str, classes: int, in_chans: int, patch: Sequence[int]) -> nn.Module:
    """A fresh zoo classifier for ``patch`` windows with ``classes`` + 1 outputs (background last)."""
    return MODELS.build(name, num_classes=classes + 1, in_chans=in_chans, input_size=tuple(patch))


@DETECTORS.register("sliding_window")
def sliding_window(*, classes: int, in_chans: int = 3, patch: tuple[int, int] = (32, 32),
                   classifier: str = "lenet5", scales: Sequence[float] = (1.0,), stride: int = 4,
                   score_threshold: float = 0.5, iou_threshold: float = 0.3, epochs: int = 10,
                   lr: float = 1e-3) -> SlidingWindow:
    """A zoo ``classifier`` (fresh, trained by ``fit`` on box crops + background windows) slid over the image."""
    net = window_classifier(classifier, classes, in_chans, patch)
    return SlidingWindow(net, patch, classes, None, scales, stride, score_threshold, iou_threshold, epochs=epochs,
                         lr=lr)
