"""Image-folder datasets: one subfolder per class (searched recursively), as DIGITS reads them.

A folder holding ``train/`` (and optionally ``val/``, ``test/``) subfolders gives fixed splits.
"""
from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from nnlab.data.dataset import ImageDataset
from nnlab.data.imageio import IMAGE_SUFFIXES, load_image
from nnlab.errors import DataError

SPLIT_NAMES = ("train", "val", "test")


def within(paths: Iterable[Path], root: Path) -> list[Path]:
    """``paths``, if each still lies inside ``root`` once symbolic links are resolved; else a DataError naming
    the link (never its target), so a linked class folder or image cannot pull in files from elsewhere.
    Each folder is resolved once and a file only when it is a link itself (60k files: well under a second)."""
    real, folders, out = root.resolve(), {}, []
    for path in paths:
        if path.parent not in folders:
            folders[path.parent] = path.parent.resolve().is_relative_to(real)
        bad = path.parent if not folders[path.parent] else \
            path if path.is_symlink() and not path.resolve().is_relative_to(real) else None
        if bad is not None:
            raise DataError(f"{bad} is a link to outside the folder {root}; copy those images in instead "
                            "(links inside the folder, and a linked top folder itself, are fine)")
        out.append(path)
    return out


def split_folders(root: str | Path) -> dict[str, Path]:
    """``{"train": root}``, or the ``train/val/test`` subfolders when root is laid out that way."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"dataset folder not found: {root}")
    subdirs = {p.name for p in root.iterdir() if p.is_dir()}
    if "train" in subdirs and subdirs <= set(SPLIT_NAMES):
        return {p.name: p for p in within([root / n for n in SPLIT_NAMES if n in subdirs], root)}
    return {"train": root}


def scan(root: str | Path, classes: list[str] | None = None) -> tuple[list[tuple[Path, int]], list[str]]:
    """List (file, class index) pairs; class names are the sorted subfolder names."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"dataset folder not found: {root}")
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not found:
        raise DataError(f"{root} has no class subfolders (expected one folder of images per class)")
    classes = classes or found
    unknown = sorted(set(found) - set(classes))
    if unknown:
        raise DataError(f"{root} has class folders not in the training classes: {', '.join(unknown)}")
    items: list[tuple[Path, int]] = []
    for index, name in enumerate(classes):
        folder = root / name
        files = sorted(within((p for p in within([folder], root)[0].rglob("*")
                               if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()), root)) \
            if folder.is_dir() else []
        if not files and name in found:
            raise DataError(f"class folder {folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        items += [(f, index) for f in files]
    return items, classes


def infer_geometry(items: list[tuple[Path, int]], size: tuple[int, int] | None = None,
                   size_hint: str = "set data.image_size: [height, width] (and data.resize_mode)"
                   ) -> tuple[int, tuple[int, int]]:
    """Channels (3 if any image is colour) and, unless ``size`` is given, the size shared by all images (error
    if they differ; ``size_hint`` says how to give one, in the words of the caller: a config key, a CLI flag)."""
    sizes, color, bad = Counter(), False, None
    for path, _ in items:
        try:
            with Image.open(path) as img:
                sizes[(img.height, img.width)] += 1
                color = color or img.mode not in ("1", "L", "LA", "I", "I;16", "F")
        except Exception as e:
            bad = bad or f"{path}: {type(e).__name__}"
            continue  # reported when decoded
    if not sizes:
        raise DataError(f"none of the {len(items)} image files can be read (first: {bad})")
    if size is None and len(sizes) != 1:
        raise DataError(f"images have {len(sizes)} different sizes; {size_hint}")
    return (3 if color else 1), (tuple(size) if size is not None else next(iter(sizes)))


def check_memory(count: int, channels: int, size: tuple[int, int], where: str | Path) -> None:
    """Refuse a decoded dataset (``count`` uint8 images) larger than the memory available, before allocating."""
    need = count * channels * size[0] * size[1]
    free = available_memory()
    if free is not None and need > free:
        raise DataError(f"{count} images of {channels}x{size[0]}x{size[1]} from {where} need {need / 2**30:,.1f} GiB "
                        f"of memory but {free / 2**30:,.1f} GiB is available; choose a smaller image size")


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux MemAvailable), None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def read_folder(root: str | Path, channels: int, size: tuple[int, int], resize_mode: str = "squash",
                classes: list[str] | None = None, progress: bool = True) -> ImageDataset:
    """Decode every image once into memory; corrupt files are skipped and listed, never fatal."""
    items, classes = scan(root, classes)
    check_memory(len(items), channels, size, root)
    images = np.empty((len(items), channels, *size), dtype=np.uint8)
    labels, skipped, n = [], [], 0
    for path, label in tqdm(items, desc=f"decode {Path(root).name}", unit="img", disable=not progress,
                            file=sys.stderr, leave=False):
        try:
            images[n] = load_image(path, channels, size[0], size[1], resize_mode)
        except DataError as e:
            skipped.append(str(e))
            continue
        labels.append(label)
        n += 1
    if n == 0:
        raise DataError(f"no readable images in {root} ({len(skipped)} could not be decoded)")
    if skipped:
        print(f"warning: skipped {len(skipped)} unreadable image(s) in {root}:", file=sys.stderr)
        for line in skipped[:10]:
            print(f"  {line}", file=sys.stderr)
    return ImageDataset(torch.from_numpy(images[:n]), torch.tensor(labels, dtype=torch.int64), classes, skipped)
