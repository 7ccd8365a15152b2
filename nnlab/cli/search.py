"""nnlab search CONFIG --space SPACE.yaml --sampler grid|random|tpe --trials N [--workers W] [--storage URL]"""
from __future__ import annotations

import argparse

from nnlab.cli.options import overrides
from nnlab.cli.table import print_table
from nnlab.experiments import search as searching
from nnlab.experiments.search_report import best_summary, trial_rows, write_report


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="hyper-parameter search (Optuna)",
                       description="Hyper-parameter search on Optuna with pruning. Run the same command again "
                                   "to continue a stopped search; give the same --storage URL on several "
                                   "machines to search together.")
    p.add_argument("config", help="experiment YAML")
    p.add_argument("--space", required=True, help="search space YAML (dotted config key -> range)")
    p.add_argument("--sampler", choices=searching.SAMPLERS, default="tpe")
    p.add_argument("--trials", type=int, help="finished trials to reach (default: the grid size, or 20)")
    p.add_argument("--workers", type=int, default=1, help="worker processes on this machine")
    p.add_argument("--storage", help="Optuna storage URL (default: sqlite:///OUT/study.db)")
    p.add_argument("--out", help="output folder (default: runs/search/<config name>)")
    p.add_argument("--study-name", help="study name in the storage (default: the config name)")
    p.add_argument("--seed", type=int, default=0, help="sampler seed")
    p.add_argument("--no-prune", action="store_true", help="let every trial run all its epochs")
    p.set_defaults(func=run, accepts_overrides=True)


def run(args: argparse.Namespace) -> int:
    spec = searching.prepare(args.config, args.space, overrides(args), args.sampler, args.trials, args.workers,
                             args.storage, args.out, args.study_name, args.seed, not args.no_prune)
    print(f"search {spec.study_name!r}: {spec.sampler} sampler, {spec.trials} trials, {spec.workers} worker(s), "
          f"storage {searching.safe_url(spec.storage)}")
    study = searching.search(spec)
    header, rows = trial_rows(study, spec.params)
    print()
    print_table(header, rows)
    metric = spec.config["train"]["monitor"]
    files = write_report(study, spec.params, spec.out, metric)
    best = best_summary(study)
    if best is not None:
        test = f", its test accuracy {best['test_acc']:.2%}" if best["test_acc"] is not None else ""
        print(f"\nbest: trial {best['trial']} {metric} {best['value']:.4f} with {best['params']}{test}")
        print(f"      run: {best['run_dir']}")
    print("written: " + ", ".join(str(f) for f in files))
    return 0
