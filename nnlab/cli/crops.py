"""``nnlab data crops SOURCE [SOURCE ...] --out DIR``: object + background crops of box datasets' TRAINING images
as one image-folder classification dataset, for pretraining a detector's backbone offline.

SOURCE is a detect config (its data section, seed and split settings decide which images are the training
split: exactly the images that config's ``nnlab train`` trains on, so no validation or test image is cropped),
or a box dataset (``raccoon``, ``pennfudan``, ``scenes`` or a box folder), read with the detect task's defaults;
``--data.key=value`` overrides either (e.g. ``--data.path=...``).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from nnlab import api
from nnlab.config import Config, apply_overrides, from_dict, load as load_config
from nnlab.data.boxes.crops import CropOptions, write_crops
from nnlab.errors import UserError

NAMED = ("raccoon", "pennfudan", "scenes")


def add_parser(dsub: argparse._SubParsersAction) -> None:
    c = dsub.add_parser("crops", help="object and background crops of a box dataset's training images, as an image "
                                      "folder for pretraining a detector's backbone (nnlab train classify)")
    c.add_argument("sources", nargs="+", metavar="SOURCE", help="a detect config (.yaml) or a box dataset: raccoon, "
                   "pennfudan, scenes or a folder; several sources are merged (same class names share a folder)")
    c.add_argument("--out", required=True, help="new folder: one subfolder per class + background")
    c.add_argument("--size", type=int, default=64, help="crop side in pixels (default 64)")
    c.add_argument("--per-image", type=int, default=4, help="crops per object and background crops per image")
    c.add_argument("--split", default="train", help="train (default) or val; test images are never cropped")
    c.add_argument("--max-iou", type=float, default=0.1, help="background crops overlap every box less than this")
    c.add_argument("--seed", type=int, default=0)
    c.set_defaults(func=run, accepts_overrides=True)


def source_config(source: str, overrides: list[str]) -> Config:
    """The detect config whose training split is cropped."""
    if source.endswith((".yaml", ".yml")):
        cfg = load_config(source, overrides)
        if cfg.task != "detect":
            raise UserError(f"{source} is a {cfg.task!r} config; nnlab data crops needs a detect config")
        return cfg
    if source in NAMED:
        data = {"dataset": source}
    elif Path(source).is_dir():
        data = {"dataset": "boxes", "path": source}
    else:
        raise UserError(f"nnlab data crops: {source!r} is neither a detect config, a box dataset name "
                        f"({', '.join(NAMED)}) nor a folder")
    return from_dict(apply_overrides({"task": "detect", "data": data}, overrides))


def run(args: argparse.Namespace) -> int:
    if args.split not in ("train", "val"):
        raise UserError(f"--split {args.split!r}: crops come from the training (or validation) images only; "
                        f"test images must stay unseen")
    if args.size < 8 or args.per_image < 1 or not 0 < args.max_iou <= 1:
        raise UserError("--size must be >= 8, --per-image >= 1 and 0 < --max-iou <= 1")
    bad = [o for o in args.overrides if not (o.startswith("--") and "=" in o)]
    if bad:
        raise UserError(f"unrecognized arguments: {' '.join(bad)} (overrides look like --data.key=value)")
    splits = []
    for source in args.sources:
        data = api.build_task(source_config(source, list(args.overrides))).load_data(progress=False)
        if args.split not in data.splits:
            raise UserError(f"{source} has no {args.split} split (set data.val_fraction)")
        splits.append(data.split(args.split))
        print(f"{source}: {args.split} split, {len(splits[-1].files)} of {sum(len(s.files) for s in data.splits.values())}"
              f" images (val / test images excluded: the split nnlab train makes with this config)")
    options = CropOptions(size=args.size, per_image=args.per_image, max_iou=args.max_iou, seed=args.seed)
    counts = write_crops(splits, args.out, options)
    print(f"wrote {sum(counts.values())} crops of {args.size}x{args.size} to {args.out}: "
          + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0
