"""nnlab sample RUN_DIR [--prompt TEXT] [--length N] [--temperature T] [--seed S]: generate from a trained run
(a character language model continues the prompt). Dispatches on the run's task (``Task.sample``)."""
from __future__ import annotations

import argparse

import nnlab


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="generate from a trained run (a language model continues a prompt)")
    p.add_argument("run_dir")
    p.add_argument("--prompt", default="\n", help="text the sample starts from (default: a newline)")
    p.add_argument("--length", type=int, default=None, help="characters to generate (default: the run's "
                   "sequence.sample_length)")
    p.add_argument("--temperature", type=float, default=None, help="0: always the most likely character; "
                   "higher: more varied (default: the run's sequence.temperature)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights", default="best", choices=["best", "last"])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    r = nnlab.sample(args.run_dir, args.weights, prompt=args.prompt, length=args.length,
                     temperature=args.temperature, seed=args.seed)
    print(r["prompt"] + r["sample"])
    return 0
