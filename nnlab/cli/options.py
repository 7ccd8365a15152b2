"""Argument helpers shared by the experiment commands (config overrides, CPU threads)."""
from __future__ import annotations

import argparse

import torch

from nnlab.errors import UserError


def overrides(args: argparse.Namespace) -> list[str]:
    """The ``--section.key=value`` overrides given after the command's own arguments."""
    extra = list(getattr(args, "overrides", []))
    bad = [o for o in extra if not (o.startswith("--") and "=" in o)]
    if bad:
        raise UserError(f"unrecognized arguments: {' '.join(bad)} (overrides look like --section.key=value)")
    return extra


def add_runs_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", default="runs", help="runs root folder (default: runs)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads per training (small models on a busy CPU: 1 is often fastest)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def apply_threads(args: argparse.Namespace) -> None:
    if args.threads is not None:
        if args.threads < 1:
            raise UserError("--threads must be at least 1")
        torch.set_num_threads(args.threads)
