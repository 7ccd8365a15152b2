"""Digit scenes: real MNIST digits pasted at random scales and positions (bounded overlap) on textured colour
backgrounds, with exact boxes and per-pixel masks. The fast, fully known detection (and segmentation)
benchmark: every box and mask comes from the pasted ink, so nothing is mislabelled.

Boxes are the tight boxes of each digit's visible ink (alpha > 0.5); later digits occlude earlier ones.
Masks: ``instance`` (0 background, i = the i-th box of the image) and ``semantic`` (0 background, digit d as
d + 1). Without MNIST (``$NNLAB_MNIST``, else ``../shared/datasets/mnist``) scikit-learn's 8x8 digits are used.
"""
from __future__ import annotations

from dataclasses import dataclass
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from nnlab.data.boxes.dataset import BoxDataset
from nnlab.data.boxes.formats import write_labels
from nnlab.data.boxes.records import BoxRecord, BoxSet, atomic_dir, shared_places
from nnlab.errors import DataError

CLASSES = [str(d) for d in range(10)]
SEMANTIC_CLASSES = ["background", *CLASSES]  # pixel value v of a semantic mask is SEMANTIC_CLASSES[v]
WRITERS = 8  # threads writing PNGs
MAX_TRIES = 30  # placements tried per digit before it is left out


@dataclass
class Scenes:
    """N generated scenes: images uint8 (N, 3, S, S), targets (torchvision convention, ``masks`` included),
    instance and semantic masks uint8 (N, S, S)."""

    images: torch.Tensor
    targets: list[dict[str, torch.Tensor]]
    instance: torch.Tensor
    semantic: torch.Tensor
    classes: list[str]
    source: str  # "mnist" or "sklearn-digits"

    def __len__(self) -> int:
        return len(self.images)

    def dataset(self) -> BoxDataset:
        """As a ``BoxDataset`` (targets keep their instance masks)."""
        return BoxDataset(self.images, self.targets, list(self.classes), [r.file for r in self.boxset().records])

    def boxset(self) -> BoxSet:
        size = self.images.shape[-1]
        records = [BoxRecord(f"scene-{i:05d}.png", size, size, t["boxes"].numpy(),
                             [self.classes[k] for k in t["labels"].tolist()]) for i, t in enumerate(self.targets)]
        return BoxSet(records, list(self.classes))


def digit_source(path: str | Path | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """(images uint8 (M, h, w), labels (M,), name): MNIST's training digits, or scikit-learn's 8x8 digits."""
    for place in ([Path(path)] if path else []) + shared_places("mnist", "NNLAB_MNIST"):
        if (place / "train-images-idx3-ubyte.gz").is_file() or (place / "train-images-idx3-ubyte").is_file():
            from nnlab.data.sources import mnist

            train = mnist(str(place))["train"]
            return train.images[:, 0].numpy(), train.labels.numpy(), "mnist"
    if path:
        raise DataError(f"no MNIST IDX files in {path}")
    from sklearn.datasets import load_digits

    d = load_digits()
    return np.round(d.images * (255 / 16)).astype(np.uint8), d.target.astype(np.int64), "sklearn-digits"


def _backgrounds(n: int, size: int, g: torch.Generator, clutter: bool) -> torch.Tensor:
    """(n, 3, S, S) float in [0, 1]: a dark colour, smooth blotches and fine grain (texture, not flat)."""
    amount = 0.35 if clutter else 0.2
    out = F.interpolate(torch.rand(n, 3, 6, 6, generator=g) * amount + torch.rand(n, 3, 1, 1, generator=g) * 0.35,
                        size=(size, size), mode="bilinear", align_corners=False)  # blotches on a dark colour
    fine = F.interpolate(torch.rand(n, 1, size // 4, size // 4, generator=g) * 0.1, size=(size, size),
                         mode="bilinear", align_corners=False)
    return out.add_(fine).clamp_(0, 1)


def _digit(src: np.ndarray, scale: float, base: int) -> torch.Tensor:
    """One digit resized so its 28-pixel frame becomes round(28 * scale): alpha (h, w) in [0, 1]."""
    side = max(4, round(base * scale))
    resized = np.asarray(Image.fromarray(src).resize((side, side), Image.BILINEAR), dtype=np.float32)
    return torch.from_numpy(resized / 255)


def _fits(box: tuple[int, int, int, int], placed: list[tuple[int, int, int, int]], max_overlap: float) -> bool:
    """Bounded overlap: the intersection covers at most ``max_overlap`` of either box."""
    x1, y1, x2, y2 = box
    for a1, b1, a2, b2 in placed:
        inter = max(0, min(x2, a2) - max(x1, a1)) * max(0, min(y2, b2) - max(y1, b1))
        if inter > max_overlap * min((x2 - x1) * (y2 - y1), (a2 - a1) * (b2 - b1)):
            return False
    return True


def _clutter(canvas: torch.Tensor, digits: np.ndarray, rng: np.random.Generator) -> None:
    """Unlabelled distractors: a few small torn-off pieces of other digits, dimmer than the real ones."""
    size = canvas.shape[-1]
    for _ in range(int(rng.integers(2, 6))):
        piece = torch.from_numpy(digits[rng.integers(len(digits))]).float() / 255
        h = max(2, piece.shape[0] // 3)
        top, left = (int(v) for v in rng.integers(0, piece.shape[0] - h + 1, 2))
        part = piece[top:top + h, left:left + h] * float(rng.uniform(0.2, 0.45))
        y, x = (int(v) for v in rng.integers(0, size - h + 1, 2))
        canvas[:, y:y + h, x:x + h] = torch.maximum(canvas[:, y:y + h, x:x + h], part)


def _scene(canvas: torch.Tensor, digits: np.ndarray, labels: np.ndarray, rng: np.random.Generator, count: int,
           scale: tuple[float, float], max_overlap: float) -> tuple[torch.Tensor, list[int]]:
    """Paste ``count`` digits into ``canvas`` (3, S, S) in place; returns the instance map and digit classes."""
    size = canvas.shape[-1]
    base = 28 if digits.shape[-1] <= 28 else digits.shape[-1]
    ids, classes, placed = torch.zeros(size, size, dtype=torch.uint8), [], []
    for _ in range(count):
        k = int(rng.integers(len(digits)))
        alpha = _digit(digits[k], float(rng.uniform(*scale)), base)
        side = min(alpha.shape[0], size)
        alpha = alpha[:side, :side]
        for _ in range(MAX_TRIES):
            y, x = (int(v) for v in rng.integers(0, size - side + 1, 2))
            ink = (alpha > 0.5).nonzero()
            if len(ink) == 0:
                break
            box = (x + int(ink[:, 1].min()), y + int(ink[:, 0].min()), x + int(ink[:, 1].max()) + 1,
                   y + int(ink[:, 0].max()) + 1)
            if _fits(box, placed, max_overlap):
                colour = torch.from_numpy(rng.uniform(0.55, 1.0, 3)).float().view(3, 1, 1)
                region = canvas[:, y:y + side, x:x + side]
                region.mul_(1 - alpha).add_(alpha * colour)
                ids[y:y + side, x:x + side][alpha > 0.5] = len(classes) + 1
                classes.append(int(labels[k]))
                placed.append(box)
                break
    return ids, classes


def _target(ids: torch.Tensor, classes: list[int]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Boxes and masks from the visible ink of each instance; fully hidden ones are dropped (ids renumbered)."""
    masks = ids[None] == torch.arange(1, len(classes) + 1, dtype=torch.uint8).view(-1, 1, 1)  # (n, S, S)
    visible = masks.flatten(1).any(1)
    masks, labels = masks[visible], torch.tensor(classes, dtype=torch.int64)[visible]
    rows, cols = masks.any(2), masks.any(1)  # (n, S) each
    ar = torch.arange(ids.shape[-1])

    def first_last(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.where(v, ar, ids.shape[-1]).amin(1), torch.where(v, ar, -1).amax(1) + 1

    (x1, x2), (y1, y2) = first_last(cols), first_last(rows)
    boxes = torch.stack([x1, y1, x2, y2], 1).float().reshape(-1, 4)
    instance = (masks.to(torch.uint8) * torch.arange(1, len(masks) + 1, dtype=torch.uint8).view(-1, 1, 1)).sum(0)
    return {"boxes": boxes, "labels": labels, "masks": masks.to(torch.uint8)}, instance.to(torch.uint8)


def generate_scenes(n: int, size: int = 128, digits: tuple[int, int] = (1, 5), scale: tuple[float, float] = (0.5, 2.0),
                    clutter: bool = False, seed: int = 0, max_overlap: float = 0.2,
                    mnist_path: str | Path | None = None, source: tuple[np.ndarray, np.ndarray, str] | None = None
                    ) -> Scenes:
    """``n`` scenes of ``size`` x ``size`` with ``digits[0]..digits[1]`` digits each, in memory (seeded)."""
    if n < 1 or size < 8 or not 0 <= digits[0] <= digits[1] or not 0 < scale[0] <= scale[1]:
        raise DataError(f"scenes need n >= 1, size >= 8, 0 <= min <= max digits and 0 < min <= max scale; got n={n}, "
                        f"size={size}, digits={digits}, scale={scale}")
    images_src, labels_src, name = source or digit_source(mnist_path)
    rng, g = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    images = torch.empty(n, 3, size, size, dtype=torch.uint8)
    targets, instance = [], torch.zeros(n, size, size, dtype=torch.uint8)
    semantic = torch.zeros_like(instance)  # instance id -> class + 1 (0 stays background)
    for i in range(n):  # one scene at a time: small tensors stay in cache
        canvas = _backgrounds(1, size, g, clutter)[0]  # (3, S, S)
        if clutter:
            _clutter(canvas, images_src, rng)
        count = int(rng.integers(digits[0], digits[1] + 1))
        ids, classes = _scene(canvas, images_src, labels_src, rng, count, scale, max_overlap)
        target, instance[i] = _target(ids, classes)
        targets.append(target)
        images[i] = canvas.mul_(255).round_()
        lut = torch.cat([torch.zeros(1, dtype=torch.uint8), target["labels"].to(torch.uint8) + 1])
        semantic[i] = lut[instance[i].long()]
    return Scenes(images, targets, instance, semantic, list(CLASSES), name)


def write_scenes(scenes: Scenes, out: str | Path, fmt: str) -> Path:
    """``images/scene-*.png``, ``masks/instance/*.png``, ``masks/semantic/*.png`` and the labels in ``fmt``,
    written atomically into the new folder ``out``."""
    boxset = scenes.boxset()
    with atomic_dir(out) as tmp:
        for sub in ("images", "masks/instance", "masks/semantic"):
            (tmp / sub).mkdir(parents=True)

        def save(i: int) -> None:
            name = boxset.records[i].file
            Image.fromarray(scenes.images[i].permute(1, 2, 0).numpy()).save(tmp / "images" / name, compress_level=1)
            Image.fromarray(scenes.instance[i].numpy()).save(tmp / "masks/instance" / name, compress_level=1)
            Image.fromarray(scenes.semantic[i].numpy()).save(tmp / "masks/semantic" / name, compress_level=1)

        with ThreadPoolExecutor(WRITERS) as pool:  # PNG encoding and file I/O release the GIL
            list(pool.map(save, range(len(scenes))))
        write_labels(boxset, tmp, fmt)
        (tmp / "masks/semantic_classes.txt").write_text("".join(c + "\n" for c in SEMANTIC_CLASSES))
    return Path(out)
