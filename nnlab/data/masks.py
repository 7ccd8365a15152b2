"""Semantic-segmentation data: the DIGITS segmentation layout, mask decoding and overlays.

DIGITS layout: an image folder and a label folder holding files of the same names (stems). A label PNG is
either indexed (mode P: each pixel a class id, the palette gives the class colours), grayscale (mode L: pixel
= class id) or RGB, which needs a colour-map file (one ``R G B [name]`` line per class, class id = line
number, as DIGITS' "colour map from text file"). 255 means "ignore" everywhere. Images are read into uint8
(N, C, H, W), masks into uint8 (N, H, W), both resized to one size (images bilinearly, masks with the nearest
neighbour so no new class ids appear at edges).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from nnlab.data.imageio import IMAGE_SUFFIXES, open_image, resize
from nnlab.errors import DataError

IGNORE = 255


@dataclass
class MaskDataset:
    """Images uint8 (N, C, H, W), semantic masks uint8 (N, H, W) (255 = ignore), class names, source files,
    class colours (K, 3) for overlays, and optional per-image instance targets (boxes / labels / masks)."""

    images: torch.Tensor
    masks: torch.Tensor
    classes: list[str]
    files: list[str]
    palette: list[tuple[int, int, int]] = field(default_factory=list)
    targets: list[dict[str, torch.Tensor]] | None = None

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index: torch.Tensor | np.ndarray) -> "MaskDataset":
        """The samples at ``index`` (1-D integer indices), with their files and instance targets."""
        idx = torch.as_tensor(np.asarray(index), dtype=torch.int64)
        pick = idx.tolist()
        return MaskDataset(self.images[idx], self.masks[idx], self.classes, [self.files[i] for i in pick],
                           self.palette, None if self.targets is None else [self.targets[i] for i in pick])


def semantic_from_instances(targets: Sequence[dict[str, torch.Tensor]], size: Sequence[int]) -> torch.Tensor:
    """Semantic masks uint8 (N, H, W) from instance targets: 0 (background, the stuff) where no instance is, an
    instance's label + 1 on its pixels (later instances over earlier ones)."""
    out = torch.zeros(len(targets), *size, dtype=torch.uint8)
    for sem, t in zip(out, targets):
        for m, label in zip(t["masks"].bool(), t["labels"].tolist()):
            sem[m] = label + 1
    return out


def voc_palette(n: int = 256) -> list[tuple[int, int, int]]:
    """The PASCAL VOC colour map (DIGITS' default): class bits spread over the high bits of R, G and B."""
    out = []
    for c in range(n):
        r = g = b = 0
        for shift in range(7, -1, -1):
            r |= ((c >> 0) & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        out.append((r, g, b))
    return out


def read_colormap(path: str | Path) -> tuple[list[tuple[int, int, int]], list[str]]:
    """``R G B [name]`` per line (``#`` comments); returns colours and names (``class<i>`` when unnamed)."""
    colours, names = [], []
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as e:
        raise DataError(f"cannot read colour map {path}: {e}") from None
    for number, line in enumerate(lines, 1):
        parts = line.split("#")[0].replace(",", " ").split()
        if not parts:
            continue
        try:
            rgb = tuple(int(v) for v in parts[:3])
        except ValueError:
            rgb = ()
        if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
            raise DataError(f"{path}, line {number}: expected 'R G B [name]' with values 0..255, got {line!r}")
        colours.append(rgb)
        names.append(" ".join(parts[3:]) or f"class{len(names)}")
    if not colours:
        raise DataError(f"colour map {path} lists no colours")
    return colours, names  # type: ignore[return-value]


def decode_mask(path: Path, colormap: list[tuple[int, int, int]] | None) -> tuple[np.ndarray, list | None]:
    """A label file -> class ids uint8 (H, W) and its palette (indexed PNGs) or None."""
    try:
        with Image.open(path) as img:
            img.load()
            mode, palette = img.mode, img.getpalette()
            arr = np.asarray(img.convert("RGB") if mode in ("RGBA", "LA") else img)
    except (OSError, ValueError, SyntaxError) as e:
        raise DataError(f"cannot decode mask {path}: {e}") from None
    if mode == "P":
        colours = [tuple(palette[i: i + 3]) for i in range(0, len(palette), 3)]
        outside = arr[(arr != IGNORE) & (arr >= len(colours))]
        if outside.size:
            raise DataError(f"mask {path} uses index {int(outside.max())} but its palette has {len(colours)} colours")
        return arr.astype(np.uint8), colours
    if arr.ndim == 2:
        return arr.astype(np.uint8), None
    if colormap is None:
        raise DataError(f"mask {path} is RGB: pass a colour map file (one 'R G B [name]' line per class)")
    return rgb_to_ids(arr[..., :3], colormap, path), None


def rgb_to_ids(arr: np.ndarray, colormap: list[tuple[int, int, int]], path: Path) -> np.ndarray:
    """(H, W, 3) colours -> (H, W) class ids by the colour map; white (255, 255, 255) unlisted = ignore."""
    codes = (arr[..., 0].astype(np.int64) << 16) | (arr[..., 1].astype(np.int64) << 8) | arr[..., 2]
    lut = {(r << 16) | (g << 8) | b: i for i, (r, g, b) in enumerate(colormap)}
    lut.setdefault(0xFFFFFF, IGNORE)
    values, inverse = np.unique(codes, return_inverse=True)
    unknown = [v for v in values.tolist() if v not in lut]
    if unknown:
        v = unknown[0]
        raise DataError(f"mask {path} has colour ({v >> 16}, {(v >> 8) & 255}, {v & 255}) that is not in the "
                        f"colour map ({len(unknown)} unknown colours)")
    return np.array([lut[v] for v in values.tolist()], dtype=np.uint8)[inverse].reshape(codes.shape)


def resize_mask(ids: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of class ids (H, W) uint8."""
    if ids.shape == (height, width):
        return ids
    return np.asarray(Image.fromarray(ids).resize((width, height), Image.NEAREST))


def _pairs(root: Path, image_dir: str, label_dir: str) -> list[tuple[Path, Path]]:
    images_root, labels_root = root / image_dir, root / label_dir
    for d in (images_root, labels_root):
        if not d.is_dir():
            raise DataError(f"{root} needs an image folder and a label folder: {d} is missing")
    labels = {p.stem: p for p in labels_root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    pairs = []
    for img in sorted(p for p in images_root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        if img.stem not in labels:
            raise DataError(f"image {img} has no mask in {labels_root} (expected a file named {img.stem}.png)")
        pairs.append((img, labels[img.stem]))
    if not pairs:
        raise DataError(f"no images in {images_root}")
    return pairs


def read_mask_folder(root: str | Path, size: Sequence[int] | None = None, channels: int = 3,
                     image_dir: str = "images", label_dir: str = "labels", colormap: str | Path | None = None,
                     limit: int | None = None) -> MaskDataset:
    """Read a DIGITS segmentation folder. ``size`` (H, W) defaults to the first image's size; ``colormap``
    defaults to ``root/colormap.txt`` when present; class names come from it, else ``root/classes.txt``."""
    root = Path(root)
    cmap_path = Path(colormap) if colormap else (root / "colormap.txt" if (root / "colormap.txt").is_file() else None)
    cmap, names = read_colormap(cmap_path) if cmap_path else (None, None)
    pairs = _pairs(root, image_dir, label_dir)[:limit]
    images, masks, palette = [], [], None
    for img_path, mask_path in pairs:
        img = open_image(img_path, channels)
        ids, pal = decode_mask(mask_path, cmap)
        if ids.shape != (img.height, img.width):
            raise DataError(f"mask {mask_path} is {ids.shape[1]}x{ids.shape[0]} but its image {img_path} is "
                            f"{img.width}x{img.height}")
        h, w = size if size is not None else (images[0].shape[1:] if images else (img.height, img.width))
        images.append(resize(img, h, w, "squash"))
        masks.append(resize_mask(ids, h, w))
        palette = palette or pal
    names = names or _class_names(root, masks)
    _check_ids(masks, pairs, len(names))
    colours = list(cmap or palette or voc_palette(len(names)))[: len(names)]
    return MaskDataset(torch.from_numpy(np.stack(images)), torch.from_numpy(np.stack(masks)), names,
                       [str(p) for p, _ in pairs], colours)


def _class_names(root: Path, masks: list[np.ndarray]) -> list[str]:
    """``root/classes.txt`` (one name per line), else class0 .. class<max id> (at least two)."""
    path = root / "classes.txt"
    if path.is_file():
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    top = max(int(m[m != IGNORE].max(initial=0)) for m in masks)
    return [f"class{i}" for i in range(max(top + 1, 2))]


def _check_ids(masks: list[np.ndarray], pairs: list[tuple[Path, Path]], k: int) -> None:
    for m, (_, path) in zip(masks, pairs):
        bad = m[(m != IGNORE) & (m >= k)]
        if bad.size:
            raise DataError(f"mask {path} has label value {int(bad.max())} but there are only {k} classes "
                            f"(0..{k - 1}, 255 = ignore)")


def overlay_grid(images: torch.Tensor, masks: torch.Tensor, out_png: str | Path,
                 palette: Sequence[tuple[int, int, int]] | None = None, alpha: float = 0.5, ncols: int = 8) -> Path:
    """Write a grid of images (N, C, H, W) uint8 with their masks (N, H, W) blended in (class 0, the
    background, is left uncoloured; 255 = ignore is white). Returns the written path."""
    from torchvision.utils import draw_segmentation_masks, make_grid

    if images.shape[0] != masks.shape[0] or images.shape[-2:] != masks.shape[-2:]:
        raise DataError(f"overlay needs one (H, W) mask per image, got images {tuple(images.shape)} and "
                        f"masks {tuple(masks.shape)}")
    k = int(masks[masks != IGNORE].max()) + 1 if (masks != IGNORE).any() else 1
    colours = list(palette or voc_palette(k))
    colours += voc_palette(k)[len(colours):]
    tiles = []
    for img, mask in zip(images, masks.long()):  # img (C, H, W), mask (H, W)
        img = img.expand(3, -1, -1) if img.shape[0] == 1 else img[:3]
        ids = list(range(1, k)) + [IGNORE]
        stack = torch.stack([mask == c for c in ids])  # (K, H, W) bool
        tiles.append(draw_segmentation_masks(img, stack, alpha, [tuple(colours[c]) for c in ids[:-1]]
                                             + [(255, 255, 255)]))
    grid = make_grid(torch.stack(tiles), nrow=min(ncols, len(tiles)), padding=2)  # (3, H', W')
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid.permute(1, 2, 0).numpy()).save(out)
    return out
