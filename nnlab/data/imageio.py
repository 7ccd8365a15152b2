"""Decode image files and resize them the way DIGITS does (squash, crop, fill, half_crop)."""
from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from nnlab.errors import DataError, ImageTooLarge

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
RESIZE_MODES = ("squash", "crop", "fill", "half_crop")
MAX_PIXELS_ENV = "NNLAB_MAX_IMAGE_PIXELS"  # the one knob for the decoding limit (default 50 megapixels)
DEFAULT_MAX_PIXELS = 50_000_000
# Decoding holds the full-size image in memory until it is resized; servers decode in threads, so at most
# this many images (NNLAB_DECODE_CONCURRENCY, default 2) are decoded at once per process.
_SLOTS = os.environ.get("NNLAB_DECODE_CONCURRENCY", "")
DECODE_SLOTS = threading.BoundedSemaphore(int(_SLOTS) if _SLOTS.isdigit() and int(_SLOTS) > 0 else 2)


def max_pixels() -> int:
    """The largest width x height decoded (``NNLAB_MAX_IMAGE_PIXELS``; a larger header is refused unread)."""
    value = os.environ.get(MAX_PIXELS_ENV, "")
    if not value.isdigit() or int(value) < 1:
        if value:
            raise DataError(f"{MAX_PIXELS_ENV}={value!r}: give a positive whole number of pixels")
        return DEFAULT_MAX_PIXELS
    return int(value)


def check_pixels(path: str | Path, width: int, height: int) -> None:
    """Refuse (ImageTooLarge) an image whose header claims more than ``max_pixels()`` pixels."""
    limit = max_pixels()
    if width * height > limit:
        raise ImageTooLarge(f"image {path} is {width}x{height} pixels ({width * height / 1e6:.1f} megapixels), "
                            f"over the decoding limit of {limit / 1e6:g} megapixels (set {MAX_PIXELS_ENV} "
                            "to change it)")


def open_image(path: str | Path, channels: int) -> Image.Image:
    """Decode fully (so a truncated file fails here) and convert to L (1 channel) or RGB (3). The pixel count
    in the header is checked first, so a decompression bomb is refused before any pixel is decoded."""
    try:
        with Image.open(path) as img:
            check_pixels(path, *img.size)
            img.load()
            if img.mode in ("I;16", "I;16B", "I", "F"):  # 16/32-bit grayscale: scale into 8 bits
                arr = np.asarray(img, dtype=np.float64)
                span = max(arr.max() - arr.min(), 1e-12)
                img = Image.fromarray(((arr - arr.min()) / span * 255).astype(np.uint8))
            return img.convert("L" if channels == 1 else "RGB")
    except FileNotFoundError:
        raise DataError(f"image not found: {path}") from None
    except Image.DecompressionBombError as e:  # Pillow's own check in Image.open (over twice its limit)
        claimed = re.search(r"\((\d+) pixels\)", str(e))
        size = f"{int(claimed.group(1)) / 1e6:.1f} megapixels" if claimed else "too many pixels"
        raise ImageTooLarge(f"image {path} claims {size}, over the decoding limit of {max_pixels() / 1e6:g} "
                            f"megapixels (set {MAX_PIXELS_ENV} to change it)") from None
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
    """Decode, convert and resize one file: uint8 (C, H, W). The full-size image lives only inside a
    decoding slot (``DECODE_SLOTS``), so concurrent requests cannot multiply its memory."""
    with DECODE_SLOTS:
        return resize(open_image(path, channels), height, width, mode)


def _chw(arr: np.ndarray) -> np.ndarray:
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1).copy()
