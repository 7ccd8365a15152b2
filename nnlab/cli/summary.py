"""nnlab summary MODEL [--input 3x224x224] [--batch N] [--classes K] [--model.OPTION=value ...]

The layer calculator: per-layer output shape, parameters, multiply-adds, receptive field and stride.
"""
from __future__ import annotations

import argparse

import nnlab
from nnlab import config as cfgmod
from nnlab.api import validate
from nnlab.cli.options import overrides as get_overrides
from nnlab.errors import UserError
from nnlab.models.summary import summarize
from nnlab.models.transfer import builder_options


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("summary", help="per-layer shapes, parameters, MACs, receptive fields of a model",
                       description="Print a model's layer table. Model options: --model.KEY=VALUE "
                                   "(e.g. --model.form=small --model.norm=group).")
    p.add_argument("model", metavar="MODEL", help="a registered model name (e.g. resnet18)")
    p.add_argument("--input", default="3x224x224", help="input CxHxW (default 3x224x224)")
    p.add_argument("--batch", type=int, default=1, help="batch size for the activation memory (default 1)")
    p.add_argument("--classes", type=int, default=1000, help="number of classes (default 1000)")
    p.set_defaults(func=run, accepts_overrides=True)


def parse_input(text: str) -> tuple[int, int, int]:
    parts = text.lower().split("x")
    try:
        c, h, w = (int(v) for v in parts)
    except ValueError:
        raise UserError(f"--input must look like 3x224x224 (channels x height x width), got {text!r}") from None
    if min(c, h, w) < 1:
        raise UserError(f"--input sizes must be positive, got {text!r}")
    return c, h, w


def run(args: argparse.Namespace) -> int:
    c, h, w = parse_input(args.input)
    if args.batch < 1 or args.classes < 1:
        raise UserError("--batch and --classes must be at least 1")
    raw = cfgmod.apply_overrides({"model": {"name": args.model}}, get_overrides(args))
    if set(raw) != {"model"}:
        raise UserError("summary takes only --model.KEY=VALUE options")
    cfg = cfgmod.from_dict(raw)
    validate(cfg)
    model = nnlab.build_model(args.model, args.classes, c, (h, w), **builder_options(cfg.model.args))
    if not getattr(model, "needs_training", True):
        raise UserError(f"{args.model} has no layers to summarize (it memorizes the training set)")
    print(summarize(model, (c, h, w), args.batch).table())
    return 0
