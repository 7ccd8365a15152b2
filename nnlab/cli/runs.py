"""nnlab runs [--runs DIR]: a table of runs with status, best metric and best epoch."""
from __future__ import annotations

import argparse

import nnlab
from nnlab.cli.table import print_table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("runs", help="list runs")
    p.add_argument("--runs", default="runs", help="runs root folder (default: runs)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    rows = nnlab.list_runs(args.runs)
    if not rows:
        print(f"no runs under {args.runs}")
        return 0
    fmt = lambda v: "" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v))  # noqa: E731
    keys = ("run", "task", "model", "status", "epochs", "monitor", "best", "best_epoch", "test")
    print_table([*keys[:-1], "test (monitor)"], [[fmt(r[k]) for k in keys] for r in rows])
    return 0
