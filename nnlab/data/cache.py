"""Built datasets: images decoded once into memory-mapped uint8 files plus a JSON manifest.

DIGITS built LMDB databases so that epochs never re-decode images; this is the same idea with
one flat ``<split>.u8`` file (N, C, H, W) and ``<split>_labels.npy`` per split.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch

from nnlab.data.dataset import ImageDataset
from nnlab.errors import DataError

FORMAT = "nnlab-cache-v1"


def build(splits: dict[str, ImageDataset], out: str | Path, source: str = "") -> Path:
    """Write the splits under ``out`` (written to a temp folder first, then renamed)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise DataError(f"{out} already exists and is not empty; choose another --out")
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    manifest = {"format": FORMAT, "source": source, "classes": splits["train"].classes,
                "shape": list(splits["train"].shape), "splits": {}}
    for name, ds in splits.items():
        ds.images.numpy().tofile(tmp / f"{name}.u8")
        np.save(tmp / f"{name}_labels.npy", ds.labels.numpy())
        manifest["splits"][name] = {"count": len(ds), "class_counts": ds.class_counts(),
                                    "skipped": ds.skipped}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
    if out.exists():
        out.rmdir()
    tmp.rename(out)
    return out


def read_manifest(root: str | Path) -> dict:
    path = Path(root) / "manifest.json"
    if not path.is_file():
        raise DataError(f"{root} is not a built dataset (no manifest.json); build one with `nnlab data build`")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise DataError(f"{path} has format {manifest.get('format')!r}, expected {FORMAT!r}")
    return manifest


def load(root: str | Path) -> dict[str, ImageDataset]:
    root = Path(root)
    manifest = read_manifest(root)
    shape = tuple(manifest["shape"])
    out = {}
    for name, info in manifest["splits"].items():
        data_file = root / f"{name}.u8"
        expected = info["count"] * int(np.prod(shape))
        if not data_file.is_file() or data_file.stat().st_size != expected:
            raise DataError(f"{data_file} is missing or has the wrong size (expected {expected} bytes)")
        images = np.memmap(data_file, dtype=np.uint8, mode="c", shape=(info["count"], *shape))
        labels = np.load(root / f"{name}_labels.npy")
        out[name] = ImageDataset(torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64)),
                                 manifest["classes"])
    return out
