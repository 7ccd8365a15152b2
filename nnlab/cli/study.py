"""nnlab study NAME [--full]: run one claim of the notes as a reproducible experiment with a report.

A dispatcher over ``nnlab.experiments.studies.STUDIES``: a new study registers itself there and appears here.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from nnlab.cli.options import apply_threads, overrides
from nnlab.cli.table import print_table
from nnlab.errors import UserError
from nnlab.experiments.studies import STUDIES, StudyContext, run_study


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("study", help="test a claim of the notes with numbers (the claims lab)",
                       description=f"Run a study and write a markdown + PNG report. Studies: "
                                   f"{', '.join(STUDIES.names())}.")
    p.add_argument("name", metavar="NAME", help=f"one of: {', '.join(STUDIES.names())}")
    p.add_argument("--full", action="store_true", help="the long version (more epochs, data and repeats)")
    p.add_argument("--repeats", type=int, help="seeds per setting (default: the study's)")
    p.add_argument("--out", help="report folder (default: runs/studies/NAME)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads per training (default 1: tiny models)")
    p.add_argument("--base", help="base config YAML, for studies that take one (--section.key=value overrides it)")
    p.add_argument("--train-size", type=int, help="training subset size, for studies that take one")
    p.set_defaults(func=run, accepts_overrides=True)


def run(args: argparse.Namespace) -> int:
    STUDIES.get(args.name)  # an unknown name fails before anything is created
    if args.repeats is not None and args.repeats < 1:
        raise UserError("--repeats must be at least 1")
    apply_threads(args)
    out = Path(args.out) if args.out else Path("runs") / "studies" / args.name
    if args.train_size is not None and args.train_size < 1:
        raise UserError("--train-size must be at least 1")
    ctx = StudyContext(out, args.full, args.repeats, base=args.base, train_size=args.train_size,
                       overrides=overrides(args))
    report, path = run_study(args.name, ctx)
    for table in report.tables:
        print(f"\n{table.title}")
        print_table(table.header, table.rows)
    print(f"\nverdict: {report.verdict}")
    print(f"report: {path}  ({report.seconds:.0f} s)")
    return 0
