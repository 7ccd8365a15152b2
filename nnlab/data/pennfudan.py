"""The Penn-Fudan pedestrian database (Wang et al., ACCV 2007): 170 street photos, 423 pedestrians, each with
a box (``Annotation/*.txt``) and an instance mask (``PedMasks/<stem>_mask.png``: 0 background, k person k).
Read in place from its folder (it may not be copied or redistributed; see its README). Gives the semantic task
(background / person), the instance task (targets in the detection conventions: boxes xyxy in pixels of the
stored size, labels 0 = person, uint8 instance masks) and, from both, the panoptic one (background = stuff)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from nnlab.data.imageio import open_image, resize
from nnlab.data.masks import MaskDataset, resize_mask, voc_palette
from nnlab.errors import DataError

CLASSES = ["background", "person"]  # semantic ids; the instance label of a person is 0 (no background class)
BOX = re.compile(r"\((\d+),\s*(\d+)\)\s*-\s*\((\d+),\s*(\d+)\)")


def is_pennfudan(root: str | Path) -> bool:
    root = Path(root)
    return (root / "PNGImages").is_dir() and (root / "PedMasks").is_dir()


def read_boxes(path: Path) -> np.ndarray:
    """Boxes (n, 4) xyxy in pixel edges from the PASCAL v1.00 annotation (1-based inclusive Xmin..Xmax)."""
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.startswith("Bounding box")]
    except OSError as e:
        raise DataError(f"cannot read annotation {path}: {e}") from None
    boxes = [[int(v) for v in m.groups()] for m in (BOX.search(line) for line in lines) if m]
    if len(boxes) != len(lines):
        raise DataError(f"annotation {path} has a bounding-box line that does not parse")
    arr = np.array(boxes, dtype=np.float32).reshape(-1, 4)
    arr[:, :2] -= 1  # (Xmin, Ymin) 1-based inclusive -> the pixel's left / top edge
    return arr


def _one(image: Path, root: Path, size: Sequence[int] | None) -> tuple[np.ndarray, np.ndarray, dict]:
    mask_path = root / "PedMasks" / f"{image.stem}_mask.png"
    if not mask_path.is_file():
        raise DataError(f"image {image} has no mask {mask_path}")
    img = open_image(image, 3)
    with Image.open(mask_path) as m:
        ids = np.asarray(m.convert("L") if m.mode not in ("L", "P") else m).astype(np.uint8)
    if ids.shape != (img.height, img.width):
        raise DataError(f"mask {mask_path} is {ids.shape[1]}x{ids.shape[0]} but {image} is {img.width}x{img.height}")
    h, w = size if size is not None else (img.height, img.width)
    people = [k for k in np.unique(ids).tolist() if k != 0]  # before resizing: a small person may vanish
    ids = resize_mask(ids, h, w)  # instance ids, nearest neighbour
    boxes = read_boxes(root / "Annotation" / f"{image.stem}.txt")
    if len(boxes) != len(people):
        raise DataError(f"{image.stem}: {len(boxes)} boxes in the annotation but {len(people)} people in the mask")
    boxes *= np.array([w / img.width, h / img.height] * 2, dtype=np.float32)
    target = {"boxes": torch.from_numpy(boxes), "labels": torch.zeros(len(people), dtype=torch.int64),
              "masks": torch.from_numpy(np.stack([ids == k for k in people]).astype(np.uint8)
                                        if people else np.zeros((0, h, w), np.uint8))}
    return resize(img, h, w, "squash"), (ids > 0).astype(np.uint8), target


def read_pennfudan(root: str | Path, size: Sequence[int] | None = (256, 256), limit: int | None = None) -> MaskDataset:
    """All (or the first ``limit``) images resized to ``size`` (H, W): semantic masks 0 background / 1 person
    and per-image instance targets. ``size=None`` keeps each image's size (only when they all agree)."""
    root = Path(root)
    if not is_pennfudan(root):
        raise DataError(f"{root} is not the Penn-Fudan folder (PNGImages/ and PedMasks/ expected)")
    files = sorted((root / "PNGImages").glob("*.png"))[:limit]
    if not files:
        raise DataError(f"no images in {root / 'PNGImages'}")
    images, semantic, targets = zip(*(_one(f, root, size) for f in files))
    if len({im.shape for im in images}) > 1:
        raise DataError("Penn-Fudan images differ in size: pass a size (H, W)")
    return MaskDataset(torch.from_numpy(np.stack(images)), torch.from_numpy(np.stack(semantic)), list(CLASSES),
                       [str(f) for f in files], voc_palette(2), list(targets))
