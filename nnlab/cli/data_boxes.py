"""Box datasets on the command line: ``nnlab data convert | check | boxes | scenes``."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from nnlab.cli.table import print_table
from nnlab.data.boxes import FORMATS, BoxSet, check, convert, read
from nnlab.data.boxes.dataset import BOX_RESIZE_MODES, from_boxset
from nnlab.data.boxes.draw import box_grid
from nnlab.data.boxes.scenes import generate_scenes, write_scenes
from nnlab.errors import UserError


def add_actions(dsub: argparse._SubParsersAction) -> None:
    c = dsub.add_parser("convert", help="convert a box dataset between voc, coco, yolo and kitti")
    c.add_argument("src", help="folder with images/ and labels in any of the formats")
    c.add_argument("--to", required=True, choices=FORMATS)
    c.add_argument("--from", dest="fmt", choices=FORMATS, help="source format (default: detected)")
    c.add_argument("--out", required=True, help="new folder (written atomically)")
    c.set_defaults(func=convert_cmd)
    k = dsub.add_parser("check", help="report label problems of a box dataset, with file names")
    k.add_argument("dir")
    k.add_argument("--from", dest="fmt", choices=FORMATS)
    k.set_defaults(func=check_cmd)
    b = dsub.add_parser("boxes", help="draw ground-truth boxes and class names on a grid of images")
    b.add_argument("dir")
    b.add_argument("--n", type=int, default=16)
    b.add_argument("--out", default="boxes.png")
    b.add_argument("--size", type=int, default=160, help="tile size in pixels")
    b.add_argument("--resize-mode", default="letterbox", choices=BOX_RESIZE_MODES)
    b.add_argument("--seed", type=int, default=0)
    b.set_defaults(func=boxes_cmd)
    s = dsub.add_parser("scenes", help="generate digit scenes (MNIST digits on textured backgrounds) with boxes "
                                       "and masks")
    s.add_argument("--out", required=True)
    s.add_argument("--n", type=int, default=2000)
    s.add_argument("--size", type=int, default=128)
    s.add_argument("--digits", default="1-5", help="digits per scene, MIN-MAX")
    s.add_argument("--scale", default="0.5-2.0", help="digit scale range (1 = MNIST's 28 pixels), MIN-MAX")
    s.add_argument("--clutter", action="store_true", help="add unlabelled pieces of digits as distractors")
    s.add_argument("--format", default="voc", choices=FORMATS)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--mnist", help="folder with the MNIST IDX files "
                                   "(default: $NNLAB_MNIST or ../shared/datasets/mnist)")
    s.set_defaults(func=scenes_cmd)


def _range(text: str, kind: type, name: str) -> tuple:
    try:
        parts = [kind(v) for v in text.split("-", 1)] if not text.startswith("-") else [kind(text)]
    except ValueError:
        raise UserError(f"--{name} must look like MIN-MAX (e.g. 1-5), got {text!r}") from None
    lo, hi = parts[0], parts[-1]
    if lo > hi:
        raise UserError(f"--{name}: MIN must not exceed MAX, got {text!r}")
    return lo, hi


def _summary(boxes) -> str:
    n_boxes = sum(len(r.names) for r in boxes.records)
    negatives = sum(1 for r in boxes.records if not r.names)
    return f"{len(boxes.records)} images ({negatives} without objects), {n_boxes} boxes, {len(boxes.classes)} classes"


def convert_cmd(args: argparse.Namespace) -> int:
    boxes = convert(args.src, args.out, args.to, args.fmt)
    print(f"wrote {_summary(boxes)} as {args.to} to {args.out}")
    return 0


def check_cmd(args: argparse.Namespace) -> int:
    boxes = check(args.dir, args.fmt)
    print(f"{args.dir}: {_summary(boxes)}")
    counts = {c: 0 for c in boxes.classes}
    for r in boxes.records:
        for n in r.names:
            counts[n] = counts.get(n, 0) + 1
    print_table(["class", "boxes"], [[c, v] for c, v in counts.items()])
    for e in boxes.errors:
        print(f"error: {e}")
    for w in boxes.warnings:
        print(f"warning: {w}")
    print(f"{len(boxes.errors)} error(s), {len(boxes.warnings)} warning(s)")
    return 1 if boxes.errors else 0


def boxes_cmd(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise UserError("--n must be at least 1")
    boxes = read(args.dir)
    pick = np.random.default_rng(args.seed).permutation(len(boxes.records))[:args.n]  # decode only these
    ds = from_boxset(BoxSet([boxes.records[i] for i in pick], boxes.classes), (args.size, args.size), 3,
                     args.resize_mode, Path(args.dir))
    box_grid(ds.images, ds.targets, ds.classes, args.n).save(args.out)
    print(f"drew {len(ds)} of {len(boxes.records)} images with their boxes to {args.out}")
    return 0


def scenes_cmd(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    scenes = generate_scenes(args.n, args.size, _range(args.digits, int, "digits"), _range(args.scale, float, "scale"),
                             args.clutter, args.seed, mnist_path=args.mnist)
    made = time.perf_counter()
    out = write_scenes(scenes, args.out, args.format)
    n_boxes = sum(len(t["labels"]) for t in scenes.targets)
    print(f"wrote {len(scenes)} scenes of {args.size}x{args.size} ({n_boxes} digits from {scenes.source}) as "
          f"{args.format} with instance and semantic masks to {Path(out)} "
          f"(generated in {made - start:.1f} s, written in {time.perf_counter() - made:.1f} s)")
    return 0
