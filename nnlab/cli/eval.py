"""nnlab eval RUN_DIR [--split test]: loss, top-1/5, per-class P/R/F1, confusion matrix (table + PNG)."""
from __future__ import annotations

import argparse

import nnlab
from nnlab.cli.table import print_table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a run on a split")
    p.add_argument("run_dir")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--weights", default="best", choices=["best", "last"])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    r = nnlab.evaluate(args.run_dir, args.split, args.weights)
    print(f"{args.split}: {r['count']} images  loss {r['loss']:.4f}  top-1 {r['top1']:.2%}  top-5 {r['top5']:.2%}")
    rows = [[name, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", m["support"]]
            for name, m in r["per_class"].items()]
    print_table(["class", "precision", "recall", "f1", "support"], rows)
    print("\nconfusion matrix (rows: true, columns: predicted)")
    print_table(["", *r["classes"]], [[c, *row] for c, row in zip(r["classes"], r["confusion"])])
    print(f"\nconfusion matrix PNG: {r['confusion_png']}")
    return 0
