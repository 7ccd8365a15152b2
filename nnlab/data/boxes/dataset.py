"""``BoxDataset``: a detection dataset in memory (uint8 images resized to the input size, torchvision-style
targets with boxes scaled to it), and the loaders that build one from a box folder in any format or from the
raccoon photos (``../shared/datasets/raccoon``, its own train/test CSVs).

Resizing: ``squash`` stretches each image to the size (boxes scale per axis); ``letterbox`` keeps the aspect
ratio and pads the rest with grey (boxes scale uniformly and shift by the padding).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image

from nnlab.data.boxes.formats import read
from nnlab.data.boxes.records import BoxRecord, BoxSet, images_dir, shared_places
from nnlab.data.imageio import open_image
from nnlab.errors import DataError

BOX_RESIZE_MODES = ("squash", "letterbox")
PAD_VALUE = 114  # letterbox grey (the YOLO convention)


class TargetList(list):
    """Per-image target dicts that slices and index tensors select from, as they do from a label tensor: so
    ``nnlab.data.loader.TensorLoader`` batches a ``BoxDataset`` (its ``labels``) unchanged."""

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return TargetList(super().__getitem__(index))
        if isinstance(index, torch.Tensor) and index.ndim:
            return TargetList(super(TargetList, self).__getitem__(i) for i in index.tolist())
        return super().__getitem__(index)


@dataclass
class BoxDataset:
    """images uint8 (N, C, H, W); targets per image ``{"boxes": float32 (n, 4) xyxy, "labels": int64 (n,)}``
    (+ ``"iscrowd"``, ``"masks"`` uint8 (n, H, W) when known); ``classes`` names the ids; ``files`` the sources."""

    images: torch.Tensor
    targets: list[dict[str, torch.Tensor]]
    classes: list[str]
    files: list[str]

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.dtype != torch.uint8:
            raise DataError(f"images must be uint8 (N, C, H, W), got {tuple(self.images.shape)} {self.images.dtype}")
        if not len(self.images) == len(self.targets) == len(self.files):
            raise DataError(f"{len(self.images)} images, {len(self.targets)} targets, {len(self.files)} files")
        for t, f in zip(self.targets, self.files):
            boxes, labels = t["boxes"], t["labels"]
            if boxes.ndim != 2 or boxes.shape[1] != 4 or len(labels) != len(boxes):
                raise DataError(f"{f}: boxes must be (n, 4) with n labels, got {tuple(boxes.shape)}, {len(labels)}")
            if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= len(self.classes)):
                raise DataError(f"{f}: labels must lie in 0..{len(self.classes) - 1}")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def labels(self) -> TargetList:
        """The targets, indexable like a label tensor (what ``TensorLoader`` gathers batches from)."""
        return TargetList(self.targets)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def subset(self, index: Sequence[int] | torch.Tensor) -> "BoxDataset":
        idx = torch.as_tensor(index, dtype=torch.int64)
        return BoxDataset(self.images[idx], [self.targets[i] for i in idx.tolist()], self.classes,
                          [self.files[i] for i in idx.tolist()])

    def batch(self, index: Sequence[int] | torch.Tensor, mean: Sequence[float], std: Sequence[float]
              ) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
        """``(images float (B, C, H, W) normalized, targets)`` for the given indices."""
        idx = torch.as_tensor(index, dtype=torch.int64)
        m, s = torch.tensor(mean).view(1, -1, 1, 1), torch.tensor(std).view(1, -1, 1, 1)
        return (self.images[idx].float() / 255 - m) / s, [self.targets[i] for i in idx.tolist()]

    def box_counts(self) -> list[int]:
        counts = torch.zeros(len(self.classes), dtype=torch.int64)
        for t in self.targets:
            counts += torch.bincount(t["labels"], minlength=len(self.classes))
        return counts.tolist()


def resize_record(img: Image.Image, record: BoxRecord, height: int, width: int, mode: str = "squash"
                  ) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float, float]]:
    """(uint8 (C, H, W), boxes scaled to it, (sx, sy, ox, oy)): new = old * s + o per axis."""
    if mode not in BOX_RESIZE_MODES:
        raise DataError(f"unknown box resize mode {mode!r}; valid: {', '.join(BOX_RESIZE_MODES)}")
    w, h = img.size
    if mode == "squash":
        sx, sy, ox, oy = width / w, height / h, 0.0, 0.0
        arr = np.asarray(img.resize((width, height), Image.BILINEAR))
    else:
        s = min(width / w, height / h)
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
        left, top = (width - nw) // 2, (height - nh) // 2
        sx, sy, ox, oy = nw / w, nh / h, float(left), float(top)
        canvas = np.full((height, width) + ((3,) if img.mode == "RGB" else ()), PAD_VALUE, np.uint8)
        canvas[top:top + nh, left:left + nw] = np.asarray(img.resize((nw, nh), Image.BILINEAR))
        arr = canvas
    boxes = record.boxes * np.array([sx, sy, sx, sy]) + np.array([ox, oy, ox, oy])
    chw = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return np.ascontiguousarray(chw), boxes, (sx, sy, ox, oy)


def from_boxset(boxes: BoxSet, size: Sequence[int], channels: int = 3, mode: str = "squash",
                root: Path | None = None) -> BoxDataset:
    """Decode, resize and stack every record; instance masks are read from ``root/masks/instance/`` when there."""
    if not boxes.records:
        raise DataError("empty dataset: no labelled images")
    height, width = size
    images, targets = [], []
    mask_dir = root / "masks" / "instance" if root is not None else None
    for r in boxes.records:
        img = open_image(r.source if r.source is not None else r.file, channels)
        arr, scaled, _ = resize_record(img, r, height, width, mode)
        images.append(torch.from_numpy(arr))
        target = {"boxes": torch.from_numpy(scaled).float().reshape(-1, 4),
                  "labels": torch.from_numpy(boxes.labels(r)), "iscrowd": torch.from_numpy(r.crowd)}
        if mask_dir is not None and (mask_dir / r.file).is_file():
            ids_arr = _resize_ids(Image.open(mask_dir / r.file), height, width, mode)
            target["masks"] = torch.from_numpy(ids_arr[None] == np.arange(1, len(r.names) + 1)[:, None, None]
                                               ).to(torch.uint8)
        targets.append(target)
    return BoxDataset(torch.stack(images), targets, list(boxes.classes), [r.file for r in boxes.records])


def _resize_ids(ids: Image.Image, height: int, width: int, mode: str) -> np.ndarray:
    """An instance-id image resized like its photo, by nearest neighbour (ids are not blended)."""
    if mode == "squash":
        return np.asarray(ids.resize((width, height), Image.NEAREST))
    w, h = ids.size
    s = min(width / w, height / h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    out = np.zeros((height, width), np.uint8)
    top, left = (height - nh) // 2, (width - nw) // 2
    out[top:top + nh, left:left + nw] = np.asarray(ids.resize((nw, nh), Image.NEAREST))
    return out


def load_box_folder(path: str | Path, size: Sequence[int], fmt: str | None = None, channels: int = 3,
                    mode: str = "squash") -> BoxDataset:
    """A box folder in any of the four formats (detected unless ``fmt`` names it) as a ``BoxDataset``."""
    root = Path(path)
    return from_boxset(read(root, fmt), size, channels, mode, root)


def raccoon(path: str | Path | None = None, size: Sequence[int] = (256, 256), mode: str = "letterbox",
            **_: Any) -> dict[str, BoxDataset]:
    """The raccoon photos (200 images, 1 class) split by the source's ``data/train_labels.csv`` and
    ``data/test_labels.csv``; boxes from the VOC annotations."""
    root = Path(path) if path else next((p for p in shared_places("raccoon", "NNLAB_RACCOON") if p.is_dir()), None)
    if root is None or not root.is_dir():
        raise DataError(f"raccoon dataset not found at {path or 'NNLAB_RACCOON / ../shared/datasets/raccoon'}")
    boxes = read(root, "voc")
    by_file = {r.file: r for r in boxes.records}
    out = {}
    for split in ("train", "test"):
        csv_path = root / "data" / f"{split}_labels.csv"
        if not csv_path.is_file():
            raise DataError(f"raccoon split file not found: {csv_path}")
        with csv_path.open(newline="") as f:
            files = list(dict.fromkeys(row["filename"] for row in csv.DictReader(f)))
        missing = [name for name in files if name not in by_file]
        if missing:
            raise DataError(f"{csv_path} names images without annotations in {images_dir(root)}: {missing[:5]}")
        out[split] = from_boxset(BoxSet([by_file[name] for name in files], boxes.classes), size, 3, mode)
    return out
