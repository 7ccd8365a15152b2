"""nnlab predict RUN_DIR IMAGE... [--top 5]"""
from __future__ import annotations

import argparse

import nnlab


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="classify image files with a trained run")
    p.add_argument("run_dir")
    p.add_argument("images", nargs="+")
    p.add_argument("--top", type=int, default=5)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for r in nnlab.predict(args.run_dir, args.images, args.top):
        print(r["image"])
        for t in r["top"]:
            print(f"  {t['prob']:7.2%}  {t['class']}")
    return 0
