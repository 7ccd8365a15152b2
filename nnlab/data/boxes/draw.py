"""Draw boxes and class names on images (ground truth for ``nnlab data boxes``, predictions for ``predict``)."""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212)]


MASK_ALPHA = 0.5  # opacity of an instance mask over its image


def blend_mask(pixels: np.ndarray, mask: np.ndarray | torch.Tensor, index: int, alpha: float = MASK_ALPHA) -> None:
    """Blend instance ``index``'s colour into the (H, W, 3) uint8 ``pixels`` (in place) where ``mask`` (H, W) is
    set: each instance its own colour, semi-transparent, so the object stays visible under it."""
    inside = np.asarray(mask, dtype=bool)
    colour = np.array(PALETTE[index % len(PALETTE)], np.float32)
    pixels[inside] = (pixels[inside] * (1 - alpha) + colour * alpha).round().astype(np.uint8)


def draw_boxes(image: torch.Tensor, boxes: torch.Tensor, labels: torch.Tensor, classes: Sequence[str],
               scores: torch.Tensor | None = None,
               masks: Iterable[np.ndarray | torch.Tensor] | None = None) -> Image.Image:
    """uint8 (C, H, W) image with each xyxy box outlined in its class colour and labelled; ``masks`` (one (H, W)
    0/1 map per box, e.g. Mask R-CNN's) are blended in first, each instance in its own colour."""
    rgb = image.expand(3, -1, -1) if image.shape[0] == 1 else image[:3]
    arr = rgb.permute(1, 2, 0).numpy().copy()  # (H, W, 3)
    for i, mask in enumerate(masks if masks is not None else ()):
        blend_mask(arr, mask, i)
    img = Image.fromarray(arr)
    pen = ImageDraw.Draw(img)
    for i, (box, label) in enumerate(zip(boxes.tolist(), labels.tolist())):
        colour = PALETTE[label % len(PALETTE)]
        x1, y1 = max(box[0], box[2] - 1), max(box[1], box[3] - 1)  # a box under a pixel wide: a line or dot
        pen.rectangle([box[0], box[1], x1, y1], outline=colour)
        text = classes[label] + (f" {float(scores[i]):.2f}" if scores is not None else "")
        pen.text((box[0] + 1, max(0, box[1] - 10)), text, fill=colour)
    return img


def grid(tiles: list[Image.Image], pad: int = 2) -> Image.Image:
    """Tiles of one size in a near-square grid."""
    cols = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    w, h = tiles[0].size
    out = Image.new("RGB", (cols * (w + pad) + pad, rows * (h + pad) + pad), (255, 255, 255))
    for i, tile in enumerate(tiles):
        out.paste(tile, (pad + (i % cols) * (w + pad), pad + (i // cols) * (h + pad)))
    return out


def box_grid(images: torch.Tensor, targets: list[dict[str, torch.Tensor]], classes: Sequence[str],
             n: int = 16, seed: int = 0) -> Image.Image:
    """``n`` random images (seeded) with their boxes drawn, in a grid."""
    pick = np.random.default_rng(seed).permutation(len(images))[:n]
    return grid([draw_boxes(images[i], targets[i]["boxes"], targets[i]["labels"], classes) for i in pick])
