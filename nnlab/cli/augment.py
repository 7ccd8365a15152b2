"""nnlab augment preview CONFIG [--n 16] [--out FILE.png] [--section.key=value ...]"""
from __future__ import annotations

import argparse

from nnlab.cli.options import overrides
from nnlab.preview import augment_preview


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("augment", help="see the training augmentation",
                       description="Training augmentation tools.")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    pv = actions.add_parser("preview", help="PNG grid of augmented training samples with their (mixed) labels",
                            description="Write a PNG grid of training samples after augmentation, input noise, "
                                        "label smoothing and mixup/CutMix, titled with their labels. Override any "
                                        "key with --section.key=value.")
    pv.add_argument("config", help="experiment YAML")
    pv.add_argument("--n", type=int, default=16, help="number of samples (default 16)")
    pv.add_argument("--out", default="augment_preview.png", help="PNG file (default augment_preview.png)")
    pv.add_argument("--seed", type=int, help="which samples and draws (default: the config's seed)")
    pv.set_defaults(func=run, accepts_overrides=True)


def run(args: argparse.Namespace) -> int:
    path = augment_preview(args.config, overrides(args), args.n, args.out, args.seed)
    print(f"augment preview: {path}")
    return 0
