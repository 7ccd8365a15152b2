"""nnlab ensemble bagging|boosting|average: train or combine several models, report each and the ensemble."""
from __future__ import annotations

import argparse

from nnlab.cli.options import add_runs_options, apply_threads, overrides
from nnlab.cli.table import print_table
from nnlab.errors import UserError
from nnlab.experiments.ensemble import EnsembleResult, Member, average, bagging, boosting, snapshots


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ensemble", help="bagging, boosting (SAMME) or averaging of models")
    kinds = p.add_subparsers(dest="kind", required=True, metavar="KIND")
    bag = kinds.add_parser("bagging", help="members trained on bootstrap samples, then voting")
    bag.add_argument("config")
    bag.add_argument("--members", type=int, default=5)
    bag.add_argument("--voting", choices=["soft", "hard"], default="soft")
    boost = kinds.add_parser("boosting", help="multi-class AdaBoost (SAMME) with neural weak learners")
    boost.add_argument("config")
    boost.add_argument("--rounds", type=int, default=5)
    for q in (bag, boost):
        add_runs_options(q)
        q.set_defaults(func=run, accepts_overrides=True)
    avg = kinds.add_parser("average", help="combine existing runs (RUN_DIR or RUN_DIR@epoch-N snapshots)")
    avg.add_argument("runs_dirs", nargs="+", metavar="RUN_DIR[@WEIGHTS]")
    avg.add_argument("--snapshots", action="store_true", help="use every epoch-N snapshot each run kept")
    avg.add_argument("--voting", choices=["soft", "hard"], default="soft")
    avg.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    def show(m: Member) -> None:
        print(f"member {m.name}: test accuracy {m.test_acc:.2%}")

    if args.kind == "average":
        specs = [s for d in args.runs_dirs for s in snapshots(d)] if args.snapshots else args.runs_dirs
        if args.snapshots and len(specs) < 2:
            raise UserError(f"--snapshots found {len(specs)} epoch-N snapshot(s) in {', '.join(args.runs_dirs)}; an "
                            "ensemble needs at least 2. A run keeps its newest train.checkpoint.keep_last snapshots "
                            "(default 1): train with --train.checkpoint.keep_last=5, for example")
        result = average(specs, args.voting)
    else:
        apply_threads(args)
        common = {"runs_root": args.runs, "progress": not args.quiet, "on_member": show}
        result = (bagging(args.config, overrides(args), args.members, args.voting, **common)
                  if args.kind == "bagging" else boosting(args.config, overrides(args), args.rounds, **common))
    print_result(result)
    return 0


def print_result(r: EnsembleResult) -> None:
    boosted = any(m.train_error is not None for m in r.members)
    header = ["member", "test_acc"] + (["weighted_error", "alpha"] if boosted else [])
    rows = [[m.name, f"{m.test_acc:.4f}"] + ([f"{m.train_error:.4f}", f"{m.weight:.3f}"] if boosted else [])
            for m in r.members]
    best = max(m.test_acc for m in r.members)
    rows.append([f"ensemble: {r.method}", f"{r.test_acc:.4f}"] + (["", ""] if boosted else []))
    print()
    print_table(header, rows)
    print(f"\nensemble {r.test_acc:.2%} vs best member {best:.2%} ({100 * (r.test_acc - best):+.2f} points)")
    for note in r.notes:
        print(f"note: {note}")
