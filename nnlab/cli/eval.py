"""nnlab eval RUN_DIR [--split test]: the run's task metrics on a split; for classification also per-class
P/R/F1 and the confusion matrix (table + PNG), for generation a reconstruction grid (PNG), for segmentation
per-class IoU / Dice / boundary IoU and an overlay grid (PNG)."""
from __future__ import annotations

import argparse

import nnlab
from nnlab.cli.table import print_table

_SKIP = {"task", "split", "count", "classes", "confusion", "per_class", "table", "table_header"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a run on a split")
    p.add_argument("run_dir")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--weights", default="best", choices=["best", "last"])
    p.set_defaults(func=run)


def _label(key: str, value: float) -> str:
    """``acc`` reads as top-1 accuracy, ``top5`` as top-5; other metrics as they are named."""
    if key == "acc":
        return f"top-1 {value:.2%}"
    if key.startswith("top") and key[3:].isdigit():
        return f"top-{key[3:]} {value:.2%}"
    return f"{key} {value:.4f}"


def run(args: argparse.Namespace) -> int:
    r = nnlab.evaluate(args.run_dir, args.split, args.weights)
    scalars = {k: v for k, v in r.items() if k not in _SKIP and isinstance(v, float)}
    shown = "  ".join(_label(k, v) for k, v in scalars.items())
    print(f"{args.split}: {r.get('count', '?')} {r.get('unit', 'images')}  {shown}")
    if "table" in r:  # detection: every COCO / VOC figure with its interpolation
        print_table(r["table_header"], r["table"])
    if r.get("per_class"):  # whatever columns the task reports per class (P/R/F1/support, IoU/Dice/...)
        columns = list(next(iter(r["per_class"].values())))
        rows = [[name, *(f"{m[c]:.3f}" if isinstance(m[c], float) else m[c] for c in columns)]
                for name, m in r["per_class"].items()]
        print_table(["class", *columns], rows)
    if "confusion" in r:
        print("\nconfusion matrix (rows: true, columns: predicted)")
        print_table(["", *r["classes"]], [[c, *row] for c, row in zip(r["classes"], r["confusion"])])
    for key, value in r.items():
        for ext in ("_png", "_tsv"):  # figures; tables of results (captioning: each image's caption)
            if key.endswith(ext):
                print(f"\n{key.removesuffix(ext).replace('_', ' ')} {ext[1:].upper()}: {value}")
    return 0
