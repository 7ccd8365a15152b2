"""Decode image files and resize them the way DIGITS does (squash, crop, fill, half_crop)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from nnlab.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
RESIZE_MODES = ("squash", "crop", "fill", "half_crop")


def open_image(path: str | Path, channels: int) -> Image.Image:
    """Decode fully (so a truncated file fails here) and convert to L (1 channel) or RGB (3)."""
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("I;16", "I;16B", "I", "F"):  # 16/32-bit grayscale: scale into 8 bits
                arr = np.asarray(img, dtype=np.float64)
                span = max(arr.max() - arr.min(), 1e-12)
                img = Image.fromarray(((arr - arr.min()) / span * 255).astype(np.uint8))
            return img.convert("L" if channels == 1 else "RGB")
    except FileNotFoundError:
        raise DataError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DataError(f"cannot decode image {path}: {e}") from None


def resize(img: Image.Image, height: int, width: int, mode: str = "squash",
           rng: np.random.Generator | None = None) -> np.ndarray:
    """Resize to (height, width); returns uint8 (C, H, W).

    squash: stretch, ignoring aspect ratio. crop: scale to cover, centre-crop. fill: scale to fit,
    pad with noise. half_crop: scale halfway between crop and fill, crop the overflow, pad with noise.
    """
    if mode not in RESIZE_MODES:
        raise DataError(f"unknown resize mode {mode!r}; valid: {', '.join(RESIZE_MODES)}")
    w, h = img.size
    if mode == "squash":
        out = np.asarray(img.resize((width, height), Image.BILINEAR))
        return _chw(out)
    s_crop, s_fill = max(height / h, width / w), min(height / h, width / w)
    scale = {"crop": s_crop, "fill": s_fill, "half_crop": (s_crop + s_fill) / 2}[mode]
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    arr = np.asarray(img.resize((nw, nh), Image.BILINEAR))
    top, left = max(0, (nh - height) // 2), max(0, (nw - width) // 2)
    arr = arr[top: top + height, left: left + width]  # crop what overflows
    rng = rng if rng is not None else np.random.default_rng(0)
    canvas = rng.integers(0, 256, size=(height, width) + arr.shape[2:], dtype=np.uint8)
    oy, ox = (height - arr.shape[0]) // 2, (width - arr.shape[1]) // 2
    canvas[oy: oy + arr.shape[0], ox: ox + arr.shape[1]] = arr  # fill the rest with noise
    return _chw(canvas)


def load_image(path: str | Path, channels: int, height: int, width: int, mode: str = "squash") -> np.ndarray:
    """Decode, convert and resize one file: uint8 (C, H, W)."""
    return resize(open_image(path, channels), height, width, mode)


def _chw(arr: np.ndarray) -> np.ndarray:
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1).copy()
