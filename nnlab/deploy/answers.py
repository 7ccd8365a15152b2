"""What the inference server answers for a detector and a segmenter, in the uploaded image's own pixels.

Detection: ``{"detections": [{"box": [x1, y1, x2, y2], "score", "label", "class"}, ...], "size": [w, h]}``,
boxes mapped back through the run's resize (squash or letterbox) and clipped to the image. A Mask R-CNN run's
detections also carry ``"mask": {"size": [h, w], "counts": str}``: the instance mask in the image's own pixels as
COCO compressed RLE (``pycocotools.mask.decode`` reads it; ``nnlab.data.boxes.rle.decode_rle`` too), the same
mask ``nnlab predict`` reports.
Segmentation: each class's share of the image's pixels and the label mask (class id per pixel, a palette PNG
whose colours are the run's palette), both at the image's own size: the network's (H, W) mask resized by
nearest neighbour, so ids stay ids.
"""
from __future__ import annotations

import base64
import io
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image

from nnlab.tasks.detect import Placement, instance_masks


def detection_answer(det: dict[str, torch.Tensor], place: Placement, classes: list[str]) -> dict[str, Any]:
    """One image's detections (input pixels) as JSON-ready data in the image's own pixels."""
    boxes = place.to_image(det["boxes"])
    found = [{"box": [round(float(v), 3) for v in b], "score": float(s), "label": int(k), "class": classes[int(k)]}
             for b, s, k in zip(boxes, det["scores"], det["labels"])]
    if "masks" in det:  # Mask R-CNN: (m, H, W) probabilities in input pixels
        for f, rle in zip(found, instance_masks(det["masks"], place)):
            f["mask"] = rle
    return {"detections": found, "size": list(place.size)}


def segmentation_answer(mask: np.ndarray, place: Placement, classes: list[str],
                        palette: Sequence[Sequence[int]] | None = None) -> dict[str, Any]:
    """One image's (H, W) label mask -> per-class pixel shares and the mask as base64 PNG, at its own size."""
    full = label_mask(mask, place.size)
    counts = np.bincount(full.ravel(), minlength=len(classes))[: len(classes)]
    png = mask_png(full, palette)
    return {"fractions": dict(zip(classes, (counts / full.size).tolist())), "size": list(place.size),
            "mask_png": base64.b64encode(png).decode("ascii")}


def label_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) uint8 class ids resized by nearest neighbour to ``size`` (width, height)."""
    img = Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint8))  # 2-D uint8: mode L
    return np.asarray(img.resize(tuple(size), Image.NEAREST))


def mask_png(mask: np.ndarray, palette: Sequence[Sequence[int]] | None = None) -> bytes:
    """A palette ("P") PNG whose pixel values are the class ids; its colours are ``palette`` (when given)."""
    h, w = mask.shape
    img = Image.frombytes("P", (w, h), np.ascontiguousarray(mask, dtype=np.uint8).tobytes())  # values = ids
    if palette:
        flat = [int(v) for colour in palette for v in list(colour)[:3]]
        img.putpalette(flat + [0] * (768 - len(flat)))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
