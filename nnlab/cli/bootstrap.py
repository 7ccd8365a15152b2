"""nnlab bootstrap RUN_DIR --n 1000: confidence intervals of test metrics by resampling predictions."""
from __future__ import annotations

import argparse
import json

from nnlab.api import RunDir
from nnlab.cli.table import print_table
from nnlab.experiments.bootstrap import run_intervals


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bootstrap", help="bootstrap confidence intervals of a run's test metrics")
    p.add_argument("run_dir")
    p.add_argument("--n", type=int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--confidence", type=float, default=0.95, help="interval coverage (default 0.95)")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    r = run_intervals(args.run_dir, args.split, args.n, args.confidence, args.seed)
    pct = f"{100 * args.confidence:g}%"
    rows = [[name, f"{m['value']:.4f}", f"{m['low']:.4f}", f"{m['high']:.4f}", f"{m['std']:.4f}"]
            for name, m in r.items()]
    print(f"{args.split} metrics with {pct} percentile bootstrap intervals ({args.n} resamples)")
    print_table(["metric", "value", f"{pct} low", f"{pct} high", "std"], rows)
    path = RunDir(args.run_dir).eval / f"bootstrap_{args.split}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"resamples": args.n, "confidence": args.confidence, "metrics": r}, indent=2))
    print(f"\nsaved: {path}")
    return 0
