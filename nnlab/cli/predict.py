"""nnlab predict RUN_DIR IMAGE... [--top 5] [--out DIR]"""
from __future__ import annotations

import argparse

import nnlab


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="apply a trained run to image files (classes, reconstructions or masks)")
    p.add_argument("run_dir")
    p.add_argument("images", nargs="+")
    p.add_argument("--top", type=int, default=5, help="classification: how many classes to show per image")
    p.add_argument("--out", default=None, help="generation: folder for each image beside its reconstruction; "
                   "segmentation: folder for each image's colour overlay")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    options = {"out": args.out} if args.out else {}
    for r in nnlab.predict(args.run_dir, args.images, args.top, **options):
        print(r["image"])
        for t in r.get("top", []):
            print(f"  {t['prob']:7.2%}  {t['class']}")
        for name, share in r.get("fractions", {}).items():
            print(f"  {share:7.2%}  of pixels  {name}")
        if "fractions" in r and "png" in r:
            print(f"  overlay -> {r['png']}")
        if "mse" in r:
            print(f"  reconstruction mse {r['mse']:.5f}" + (f"  -> {r['png']}" if "png" in r else ""))
    return 0
