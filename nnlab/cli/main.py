"""``nnlab`` command line: one module per subcommand, each a thin layer over the public API."""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Sequence

from nnlab.cli import augment, bootstrap, cv, data, diagnose, ensemble, eval as eval_cmd, predict, runs, search, study, train
from nnlab.cli import deploy, explain, explore, export, lr_plot, optim, panoptic, rl, sample, serve, summary, token, \
    worker
from nnlab.errors import TrainingStopped, UserError

COMMANDS = [train, eval_cmd, predict, runs, data, cv, bootstrap, ensemble, search, diagnose, study, augment, optim,
            lr_plot, summary, export, deploy, serve, token, rl, explain, sample, explore, panoptic, worker]

OVERRIDE = re.compile(r"^--?[A-Za-z_][\w-]*(\.[\w-]+)+=")  # --section.key=value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nnlab", description="Deep-learning lab for images on PyTorch.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _tune_malloc()
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # config overrides are taken out first: argparse reads an unknown "--a.b=[1, 2]" (it has a space) as a positional
    overrides = [a for a in argv if OVERRIDE.match(a)]
    args, extra = parser.parse_known_args([a for a in argv if not OVERRIDE.match(a)])
    if (extra or overrides) and not getattr(args, "accepts_overrides", False):
        parser.error(f"unrecognized arguments: {' '.join(extra + overrides)}")
    args.overrides = overrides + extra
    try:
        _check_runs_folder(getattr(args, "runs", None))
        return args.func(args) or 0
    except TrainingStopped as e:
        print(f"nnlab: {e}", file=sys.stderr)
        return e.exit_code
    except UserError as e:
        print(f"nnlab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nnlab: interrupted", file=sys.stderr)
        return 130


def _check_runs_folder(runs: object) -> None:
    """Every command's ``--runs`` is a folder (made when missing): a file there is named, not a traceback."""
    if isinstance(runs, str) and Path(runs).exists() and not Path(runs).is_dir():
        raise UserError(f"--runs {runs} is a file; give a folder (it is created when missing)")


def _tune_malloc() -> None:
    """Keep glibc from returning and re-faulting memory on every batch (2-3x throughput swings otherwise)."""
    if not sys.platform.startswith("linux") or os.environ.get("NNLAB_NO_MALLOPT"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
        libc.mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024)
        libc.mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024 * 1024)
        libc.mallopt(M_TOP_PAD, 256 * 1024 * 1024)
    except (OSError, AttributeError):
        pass
