"""nnlab export RUN_DIR --format onnx|torchscript [--dynamic-batch] [--out PATH]"""
from __future__ import annotations

import argparse

from nnlab.deploy.export import FORMATS, export_run


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a run to ONNX or TorchScript (checked against PyTorch)")
    p.add_argument("run_dir")
    p.add_argument("--format", default="onnx", help=f"one of: {', '.join(FORMATS)} (default onnx)")
    p.add_argument("--dynamic-batch", action="store_true", help="accept any batch size (default: batch 1)")
    p.add_argument("--out", help="output file (default RUN_DIR/export/model.onnx or model.torchscript.pt)")
    p.add_argument("--weights", default="best", choices=["best", "last"])
    p.add_argument("--tolerance", type=float, default=1e-4,
                   help="largest allowed |exported - PyTorch| (absolute, plus the same times |logit|)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    r = export_run(args.run_dir, args.format, args.out, args.dynamic_batch, args.weights, args.tolerance)
    batch = "dynamic batch" if r.dynamic_batch else "batch 1"
    print(f"exported {r.format} ({batch}) to {r.path}")
    print(f"checked against PyTorch at batch sizes {r.checked_batches}: max abs difference {r.max_abs_diff:.3g} "
          f"(tolerance {r.tolerance:g})")
    return 0
