"""nnlab data masks DIR --out grid.png: read a segmentation folder (DIGITS layout, or Penn-Fudan), report the
classes' pixel shares and write the masks as colour overlays on their images."""
from __future__ import annotations

import argparse

import torch

from nnlab.cli.table import print_table
from nnlab.data.masks import IGNORE, overlay_grid, read_mask_folder
from nnlab.data.pennfudan import is_pennfudan, read_pennfudan


def add_parser(dsub: argparse._SubParsersAction) -> None:
    """Registered under ``nnlab data`` (by nnlab/cli/data.py)."""
    m = dsub.add_parser("masks", help="overlay segmentation masks on their images (DIGITS layout or Penn-Fudan)")
    m.add_argument("dir", help="folder with images/ and labels/ of the same names (or the Penn-Fudan folder)")
    m.add_argument("--out", required=True, help="PNG file to write the overlay grid to")
    m.add_argument("--size", help="HxW to resize to (default: the first image's size; Penn-Fudan 256x256)")
    m.add_argument("--limit", type=int, default=16, help="at most this many images (default 16)")
    m.add_argument("--images", default="images", help="image folder name inside DIR")
    m.add_argument("--labels", default="labels", help="label folder name inside DIR")
    m.add_argument("--colormap", help="text file, one 'R G B [name]' line per class (needed for RGB masks)")
    m.add_argument("--cols", type=int, default=8, help="images per grid row")
    m.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nnlab.cli.data import _size

    size = _size(args.size)
    if is_pennfudan(args.dir):
        ds = read_pennfudan(args.dir, size or (256, 256), limit=args.limit)
    else:
        ds = read_mask_folder(args.dir, size, image_dir=args.images, label_dir=args.labels, colormap=args.colormap,
                              limit=args.limit)
    counts = torch.bincount(ds.masks.flatten().long(), minlength=256)
    total = max(int(counts.sum()), 1)
    rows = [[c, f"{100 * int(counts[i]) / total:.1f}%"] for i, c in enumerate(ds.classes)]
    if counts[IGNORE]:
        rows.append(["(ignore 255)", f"{100 * int(counts[IGNORE]) / total:.1f}%"])
    print(f"{len(ds)} images {ds.images.shape[-2]}x{ds.images.shape[-1]}, {len(ds.classes)} classes")
    print_table(["class", "pixels"], rows)
    out = overlay_grid(ds.images, ds.masks, args.out, ds.palette, ncols=args.cols)
    print(f"wrote {out}")
    return 0
