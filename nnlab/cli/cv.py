"""nnlab cv CONFIG --folds K [--stratified] [--refit]: k-fold cross-validation on the training split."""
from __future__ import annotations

import argparse

from nnlab.cli.options import add_runs_options, apply_threads, overrides
from nnlab.cli.table import print_table
from nnlab.experiments.cv import Fold, cross_validate


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cv", help="k-fold cross-validation on the training split",
                       description="k-fold cross-validation on the training split (folds from scikit-learn). "
                                   "Override config keys with --section.key=value.")
    p.add_argument("config", help="experiment YAML")
    p.add_argument("--folds", type=int, default=5, help="number of folds (default 5)")
    p.add_argument("--stratified", action="store_true", help="keep class ratios in every fold")
    p.add_argument("--refit", action="store_true", help="then train on all training data and test once")
    add_runs_options(p)
    p.set_defaults(func=run, accepts_overrides=True)


def run(args: argparse.Namespace) -> int:
    apply_threads(args)

    def show(f: Fold) -> None:
        print(f"fold {f.index}/{args.folds}: val acc {f.val_acc:.2%}  val loss {f.val_loss:.4f}  ({f.run_dir})")

    r = cross_validate(args.config, overrides(args), args.folds, args.stratified, args.refit, args.runs,
                       progress=not args.quiet, on_fold=show)
    rows = [[f.index, f.train_size, f.val_size, f"{f.val_acc:.4f}", f"{f.val_loss:.4f}"] for f in r.folds]
    (acc, acc_sd), (loss, loss_sd) = r.summary["val_acc"], r.summary["val_loss"]
    rows.append(["mean ± std", "", "", f"{acc:.4f} ± {acc_sd:.4f}", f"{loss:.4f} ± {loss_sd:.4f}"])
    print(f"\n{args.folds}-fold {'stratified ' if r.stratified else ''}cross-validation")
    print_table(["fold", "train", "val", "val_acc", "val_loss"], rows)
    if r.test is not None:
        print(f"\nrefit on all training data: test accuracy {r.test['acc']:.2%}  ({r.refit_dir})")
    return 0
