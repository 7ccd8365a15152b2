"""nnlab explore RUN_DIR --interpolate A B | --traverse [DIM ...] [--out f.png]: a VAE's latent space.
``--interpolate``: decoded images along the line between the codes of A and B (image files, or indices into
the run's test split); ``--traverse``: one row per latent dimension swept over [-span, span]."""
from __future__ import annotations

import argparse

import nnlab


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explore", help="interpolate or traverse a VAE's latent space (PNG)")
    p.add_argument("run_dir")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--interpolate", nargs=2, metavar=("A", "B"),
                      help="two images (file paths or test-split indices)")
    mode.add_argument("--traverse", nargs="*", type=int, metavar="DIM",
                      help="latent dimensions to sweep (default: the 8 most active)")
    p.add_argument("--steps", type=int, default=None, help="images per row (default 10 / 9)")
    p.add_argument("--span", type=float, default=3.0, help="traverse: sweep each dimension over [-span, span]")
    p.add_argument("--start", default=None, help="traverse: around this image's code instead of the prior mean")
    p.add_argument("--out", default="explore.png")
    p.add_argument("--weights", default="best", choices=["best", "last"])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.interpolate:
        a, b = args.interpolate
        r = nnlab.interpolate(args.run_dir, a, b, args.steps or 10, args.out, args.weights)
        print(f"interpolation {a} -> {b} in {len(r['images'])} steps -> {r['png']}")
    else:
        r = nnlab.traverse(args.run_dir, args.traverse, args.steps or 9, args.span, args.start, args.out,
                           args.weights)
        print(f"traversal of latent dimensions {', '.join(map(str, r['dims']))} -> {r['png']}")
    return 0
