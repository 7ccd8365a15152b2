"""nnlab diagnose RUN_DIR: under-fitting, good fit or over-fitting (a little / strongly), with advice."""
from __future__ import annotations

import argparse

from nnlab.cli.table import print_table
from nnlab.experiments.diagnose import Thresholds, diagnose_run


def add_parser(sub: argparse._SubParsersAction) -> None:
    d = Thresholds()
    p = sub.add_parser("diagnose", help="read a run's learning curves and say how it fits")
    p.add_argument("run_dir")
    p.add_argument("--min-train-acc", type=float, default=d.min_train_acc,
                   help=f"train accuracy below this is under-fitting (default {d.min_train_acc})")
    p.add_argument("--little-gap", type=float, default=d.little_gap,
                   help=f"train-val accuracy gap of a little over-fitting (default {d.little_gap})")
    p.add_argument("--strong-gap", type=float, default=d.strong_gap,
                   help=f"gap of strong over-fitting (default {d.strong_gap})")
    p.add_argument("--strong-loss-rise", type=float, default=d.strong_loss_rise,
                   help=f"val loss rise above its minimum of strong over-fitting (default {d.strong_loss_rise})")
    p.add_argument("--patience", type=int, default=d.patience, help="patience of the early-stopping what-if")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    th = Thresholds(args.min_train_acc, args.little_gap, args.strong_gap, args.strong_loss_rise, args.patience)
    d = diagnose_run(args.run_dir, th)
    print(f"verdict: {d.verdict}\n")
    print_table(["measure", "value"], [[k, f"{v:.4f}" if isinstance(v, float) else v] for k, v in d.numbers.items()])
    print(f"\nadvice: {d.advice}")
    for note in d.notes:
        print(f"- {note}")
    return 0
