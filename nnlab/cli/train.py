"""nnlab train CONFIG [--section.key=value ...] | --resume RUN_DIR | --extend RUN_DIR --epochs N"""
from __future__ import annotations

import argparse

import nnlab
from nnlab.config import load as load_config
from nnlab.errors import UserError
from nnlab.launch import finish, launch, main_process


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train from a YAML config",
                       description="Train from a YAML config. Override any key with --section.key=value.")
    p.add_argument("config", nargs="?", help="experiment YAML (e.g. configs/classify/digits_mlp.yaml)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped run exactly")
    p.add_argument("--extend", metavar="RUN_DIR", help="new run from a finished run's weights and optimizer")
    p.add_argument("--epochs", type=int, help="epochs (with --extend: epochs of the new run)")
    p.add_argument("--runs", default="runs", help="runs root folder (default: runs)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--nproc", type=int, help="data-parallel training in N processes (torchrun; gloo on CPU, NCCL "
                   "on GPUs); train.batch_size stays the global batch")
    p.add_argument("--port", type=int, help="with --nproc: the rendezvous port (default: a free one)")
    p.set_defaults(func=run, accepts_overrides=True)


def _forwarded(args: argparse.Namespace, overrides: list[str]) -> list[str]:
    """This command's arguments for each of the processes (without --nproc / --port)."""
    out = [args.config] if args.config else []
    for flag, value in (("--resume", args.resume), ("--extend", args.extend), ("--runs", args.runs)):
        out += [flag, value] if value else []
    return out + (["--quiet"] if args.quiet else []) + overrides


def run(args: argparse.Namespace) -> int:
    if not (args.config or args.resume or args.extend):
        raise UserError("give a config file, --resume RUN_DIR or --extend RUN_DIR")
    if args.config and (args.resume or args.extend):
        raise UserError("--resume and --extend take the config from the run; give no config file")
    overrides = list(args.overrides)
    bad = [o for o in overrides if not (o.startswith("--") and "=" in o)]
    if bad:
        raise UserError(f"unrecognized arguments: {' '.join(bad)} (overrides look like --section.key=value)")
    if args.epochs is not None:
        overrides.append(f"--train.epochs={args.epochs}")
    if args.nproc is not None:
        cfg = load_config(args.config, overrides) if args.config else None
        return launch(_forwarded(args, overrides), args.nproc, args.port, args.runs, args.resume or args.extend, cfg)
    try:
        result = nnlab.fit(args.config, overrides, resume=args.resume, extend=args.extend, runs_root=args.runs,
                           progress=not args.quiet)
    finally:
        finish()
    meta = result.meta
    if not main_process():  # another process of a distributed run: rank 0 reports
        return 0
    if args.quiet and meta.get("transfer"):
        tr = meta["transfer"]
        print(f"frozen: {', '.join(tr['frozen']) or 'nothing'}; trainable parameters: {tr['trainable']:,} of "
              f"{tr['total']:,}")
    if meta.get("message"):
        print(meta["message"])
    if meta.get("best") is not None:
        print(f"best {meta['monitor']}: {meta['best']:.4f} at epoch {meta['best_epoch']}")
    if result.test is not None:
        test = result.test
        if "acc" in test:
            print(f"test accuracy: {test['acc']:.2%}  (loss {test['loss']:.4f})")
        else:
            print("test: " + "  ".join(f"{k} {v:.4f}" for k, v in test.items()))
    print(f"run directory: {result.dir}")
    return 0
