"""Object and background crops of a box dataset as an image-folder classification dataset (one folder per object
class + ``background``): the offline pretraining data of a detector's backbone (R-CNN's warped regions, here
without ImageNet). A classifier trained on them (``nnlab train`` classify) loads as the backbone of a detector
(``model.backbone_weights``).

Object crops are square (no distortion: the detector sees letterboxed photos), centred on the box with a random
scale (side = the box's longer side x ``scale``) and shift; background crops have sides drawn log-uniformly
between the smallest and largest object side of the split, and overlap every box with IoU < ``max_iou``. Regions
outside the image read as 0. Crops are resampled by RoIAlign with adaptive sampling (an average, so no aliasing).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import torch
from PIL import Image

from nnlab.data.boxes.dataset import BoxDataset
from nnlab.data.boxes.records import atomic_dir
from nnlab.errors import DataError

BACKGROUND = "background"
TRIES = 64  # random background candidates per crop wanted
FLAT = 2.0  # a background crop whose pixels vary less than this (std, 0-255) is padding, not a scene: dropped


@dataclass
class CropOptions:
    size: int = 64  # side of every crop written
    per_image: int = 4  # crops per object, and background crops per image
    max_iou: float = 0.1  # a background crop overlaps every box less than this
    scale: tuple[float, float] = (1.0, 1.4)  # an object crop's side / the box's longer side
    shift: float = 0.1  # an object crop's centre moves up to this fraction of its side
    seed: int = 0


def object_regions(boxes: torch.Tensor, k: int, o: CropOptions, gen: torch.Generator) -> torch.Tensor:
    """(n, 4) boxes -> (n * k, 4) square regions around them (random scale and shift)."""
    if not len(boxes):
        return boxes.new_zeros(0, 4)
    b = boxes.float().repeat_interleave(k, 0)  # (n k, 4)
    centre = (b[:, :2] + b[:, 2:]) / 2
    lo, hi = math.log(o.scale[0]), math.log(o.scale[1])
    side = (b[:, 2:] - b[:, :2]).amax(1) * torch.exp(lo + (hi - lo) * torch.rand(len(b), generator=gen))  # (n k,)
    centre = centre + (torch.rand(len(b), 2, generator=gen) * 2 - 1) * o.shift * side[:, None]
    return torch.cat([centre - side[:, None] / 2, centre + side[:, None] / 2], 1)


def background_regions(boxes: torch.Tensor, hw: tuple[int, int], k: int, sides: tuple[float, float],
                       max_iou: float, gen: torch.Generator) -> torch.Tensor:
    """Up to ``k`` square regions inside an (H, W) image whose IoU with each of ``boxes`` is below ``max_iou``."""
    from torchvision.ops import box_iou

    h, w = hw
    lo, hi = math.log(max(sides[0], 4.0)), math.log(min(sides[1], float(min(h, w))))
    side = torch.exp(lo + (hi - lo) * torch.rand(k * TRIES, generator=gen))  # (T,)
    x1 = torch.rand(k * TRIES, generator=gen) * (w - side).clamp(min=0)
    y1 = torch.rand(k * TRIES, generator=gen) * (h - side).clamp(min=0)
    cand = torch.stack([x1, y1, x1 + side, y1 + side], 1)  # (T, 4)
    if len(boxes):
        cand = cand[box_iou(cand, boxes.float()).amax(1) < max_iou]
    return cand[:k]


def crop_split(ds: BoxDataset, o: CropOptions) -> tuple[torch.Tensor, list[str], list[str]]:
    """Every crop of ``ds``: uint8 (M, C, size, size), class name per crop, and the source file of each."""
    from torchvision.ops import roi_align

    if BACKGROUND in ds.classes:
        raise DataError(f"the box dataset has a class named {BACKGROUND!r}; the crops need that name for "
                        f"regions without objects")
    gen = torch.Generator().manual_seed(o.seed)
    all_boxes = [t["boxes"] for t in ds.targets if len(t["boxes"])]
    if not all_boxes:
        raise DataError("the box dataset's split has no boxes to crop")
    cat = torch.cat(all_boxes).float()
    longer = (cat[:, 2:] - cat[:, :2]).amax(1)
    sides = (float(longer.min()), float(longer.max()))
    crops, names, files = [], [], []
    for i, t in enumerate(ds.targets):
        image = ds.images[i : i + 1].float()  # (1, C, H, W)
        obj = object_regions(t["boxes"], o.per_image, o, gen)
        bg = background_regions(t["boxes"], tuple(image.shape[-2:]), 2 * o.per_image, sides, o.max_iou, gen)
        out = roi_align(image, [torch.cat([obj, bg])], o.size, aligned=True)  # (m, C, size, size)
        flat = out[len(obj):].flatten(1).std(1) < FLAT if len(bg) else torch.zeros(0, dtype=torch.bool)  # padding
        out = torch.cat([out[: len(obj)], out[len(obj):][~flat][: o.per_image]])
        crops.append(out.round().clamp(0, 255).to(torch.uint8))
        n_bg = len(out) - len(obj)
        names += [ds.classes[int(c)] for c in t["labels"].repeat_interleave(o.per_image)] + [BACKGROUND] * n_bg
        files += [ds.files[i]] * len(out)
    return torch.cat(crops), names, files


def write_crops(datasets: list[BoxDataset], out: str | Path, o: CropOptions) -> dict[str, int]:
    """Crops of every dataset (classes of the same name share a folder) written as ``out/<class>/<image stem>_<n>.png``,
    atomically (all or nothing); the count per class folder."""
    parts = [crop_split(ds, replace(o, seed=o.seed + i)) for i, ds in enumerate(datasets)]
    counts: dict[str, int] = {}
    with atomic_dir(out) as tmp:
        for images, names, files in parts:
            for img, name, file in zip(images, names, files):
                n = counts[name] = counts.get(name, 0) + 1
                folder = tmp / name
                folder.mkdir(exist_ok=True)
                arr = img.permute(1, 2, 0).numpy()  # (size, size, C)
                Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr).save(folder / f"{Path(file).stem}_{n}.png")
    return dict(sorted(counts.items()))
