"""nnlab data build SRC --out DIR --size HxW | nnlab data info DIR (+ the box actions of cli/data_boxes.py)"""
from __future__ import annotations

import argparse
from pathlib import Path

from nnlab.cli import crops, masks
from nnlab.cli import data_boxes
from nnlab.cli.table import print_table
from nnlab.data import cache, sources
from nnlab.data.folder import scan, split_folders
from nnlab.errors import UserError

MIN_PER_CLASS = 500  # the notes' rule of thumb for images per class


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="build or inspect datasets")
    dsub = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    b = dsub.add_parser("build", help="decode an image folder once into a memory-mapped dataset")
    b.add_argument("src", help="image folder (class subfolders, or train/val/test subfolders)")
    b.add_argument("--out", required=True)
    b.add_argument("--size", help="HxW, e.g. 28x28 (default: the images' own size when all agree)")
    b.add_argument("--channels", type=int, choices=[1, 3])
    b.add_argument("--resize-mode", default="squash", choices=["squash", "crop", "fill", "half_crop"])
    b.set_defaults(func=build)
    i = dsub.add_parser("info", help="per-class counts and warnings")
    i.add_argument("dir", help="a built dataset or an image folder")
    i.set_defaults(func=info)
    data_boxes.add_actions(dsub)
    masks.add_parser(dsub)
    crops.add_parser(dsub)


def _size(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UserError(f"--size must look like 28x28, got {text!r}") from None
    if h < 1 or w < 1:
        raise UserError("--size must be positive")
    return [h, w]


def build(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a new or empty folder")
    if out.is_dir() and any(out.iterdir()):  # before decoding anything
        raise UserError(f"--out {out} already exists and is not empty; choose another --out")
    splits = sources.image_folder(args.src, _size(args.size), args.channels, args.resize_mode,
                                  size_hint="give --size HxW (and --resize-mode)")
    out = cache.build(splits, args.out, source=str(args.src))
    skipped = sum(len(s.skipped) for s in splits.values())
    c, h, w = splits["train"].shape
    counts = ", ".join(f"{k} {len(v)}" for k, v in splits.items())
    print(f"built {out}: {counts} images of {c}x{h}x{w}, {len(splits['train'].classes)} classes"
          + (f"; skipped {skipped} unreadable file(s)" if skipped else ""))
    return 0


def info(args: argparse.Namespace) -> int:
    try:
        manifest = cache.read_manifest(args.dir)
        classes = manifest["classes"]
        counts = {name: s["class_counts"] for name, s in manifest["splits"].items()}
        print(f"built dataset {args.dir}: shape {'x'.join(map(str, manifest['shape']))}, source {manifest['source']}")
    except UserError:
        folders = split_folders(args.dir)
        classes = scan(folders["train"])[1]
        counts = {}
        for name, folder in folders.items():
            items, _ = scan(folder, classes)
            counts[name] = [sum(1 for _, y in items if y == i) for i in range(len(classes))]
        print(f"image folder {args.dir} (files counted, not decoded)")
    names = list(counts)
    print_table(["class", *names], [[c, *(counts[n][i] for n in names)] for i, c in enumerate(classes)])
    for warning in class_warnings(classes, counts["train"]):
        print(f"warning: {warning}")
    return 0


def class_warnings(classes: list[str], counts: list[int]) -> list[str]:
    """Imbalance (largest class over twice the smallest) and classes under the rule-of-thumb size."""
    out = []
    small, large = min(counts), max(counts)
    if small == 0 or large / small > 2:
        out.append(f"class imbalance: largest class has {large} images, smallest {small}")
    few = [f"{c} ({n})" for c, n in zip(classes, counts) if n < MIN_PER_CLASS]
    if few:
        out.append(f"{len(few)} class(es) have fewer than {MIN_PER_CLASS} training images "
                   f"(rule of thumb): {', '.join(few[:10])}")
    return out
