"""nnlab optim list|race|compare: the optimizer table, the 2-D optimizer race, optimizers compared on a config."""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

from nnlab.cli.options import add_runs_options, apply_threads, overrides
from nnlab.cli.table import format_table, print_table
from nnlab.errors import UserError
from nnlab.experiments.optim_compare import compare, summary_rows, write_report
from nnlab.optim import OPTIMIZERS, SCHEDULES
from nnlab.optim.playground import FUNCTIONS, get_function, race
from nnlab.optim.schedules import schedule_options

FLAGS = ("has_momentum", "has_betas", "adaptive", "needs_closure")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("optim", help="optimizers: list them, race them on 2-D functions, compare them on a config")
    kinds = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = kinds.add_parser("list", help="every optimizer and schedule with its defaults and update rule")
    ls.set_defaults(func=run_list)
    r = kinds.add_parser("race", help="optimizers from the same start on a 2-D test function (PNG, GIF, table)")
    r.add_argument("--fn", default="rosenbrock", help=f"one of: {', '.join(FUNCTIONS)}")
    r.add_argument("--optims", default="sgd,momentum,nesterov,adagrad,rmsprop,adam",
                   help="comma-separated optimizer names")
    r.add_argument("--steps", type=int, default=500)
    r.add_argument("--lr", default="", help="learning-rate overrides, e.g. sgd=0.002,adam=0.1")
    r.add_argument("--tol", type=float, default=1e-3, help="steps to f - f_min <= tol are counted")
    r.add_argument("--out", default="runs/optim_race", help="output folder")
    r.add_argument("--no-gif", action="store_true", help="skip the animation")
    r.set_defaults(func=run_race)
    c = kinds.add_parser("compare", help="train a config with each optimizer over seeds; markdown + PNG report")
    c.add_argument("config")
    c.add_argument("--optims", default="sgd,momentum,adam,adamw,radam,adamp")
    c.add_argument("--seeds", type=int, default=3)
    c.add_argument("--lr", default="", help="learning-rate overrides, e.g. sgd=0.05,adam=0.002")
    c.add_argument("--out", help="report folder (default: RUNS/compare/<config name>)")
    add_runs_options(c)
    c.set_defaults(func=run_compare, accepts_overrides=True)


def run_list(args: argparse.Namespace) -> int:
    rows = []
    for name, e in OPTIMIZERS.items():
        opts = {k: v for k, v in e.options().items() if k not in ("lr", "foreach", "maximize", "differentiable",
                                                                    "capturable", "fused")}
        flags = ",".join(f.removeprefix("has_") for f in FLAGS if getattr(e, f))
        rows.append([name, f"{e.cls.__module__.split('.')[0]}.{e.cls.__name__}", f"{e.lr:g}", flags or "-",
                     " ".join(f"{k}={v}" for k, v in opts.items())])
    print_table(["optimizer", "class", "lr", "flags", "other defaults"], rows)
    print("\nupdate rules (g: gradient, w: weights):")
    for name, e in OPTIMIZERS.items():
        print(f"  {name:<9} {e.rule}")
    print("\nschedules (optim.schedule.name; t counts epochs, or optimizer steps with per_step: true):")
    for name, s in SCHEDULES.items():
        opts = ", ".join(f"{k}={v}" for k, v in schedule_options(name).items())
        print(f"  {name:<13} {s.formula}" + (f"\n  {'':<13} options: {opts}" if opts else ""))
    return 0


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UserError("--optims needs at least one optimizer name")
    return names


def _lrs(text: str) -> dict[str, float]:
    out = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, _, value = item.partition("=")
        try:
            out[name] = float(value)
        except ValueError:
            raise UserError(f"--lr {item!r} must look like name=value, e.g. adam=0.01") from None
        if out[name] <= 0:
            raise UserError(f"--lr {item!r}: the learning rate must be positive")
    return out


def run_race(args: argparse.Namespace) -> int:
    from nnlab.optim.race_figures import contour_png, race_gif, race_table

    fn = get_function(args.fn)
    results = race(args.fn, _names(args.optims), args.steps, _lrs(args.lr), args.tol)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    header, rows = race_table(fn, results, args.tol)
    with (out / "race.csv").open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    (out / "race.txt").write_text(f"{args.fn}: {fn.formula}; start {fn.start}\n" + format_table(header, rows) + "\n")
    print(f"{args.fn}: {fn.formula}, start {fn.start}, {args.steps} steps")
    print_table(header, rows)
    written = [contour_png(fn, args.fn, results, out / f"{args.fn}.png")]
    if not args.no_gif:
        written.append(race_gif(fn, args.fn, results, out / f"{args.fn}.gif"))
    print("wrote " + ", ".join(str(p) for p in [*written, out / "race.csv"]))
    return 0


def run_compare(args: argparse.Namespace) -> int:
    apply_threads(args)
    names = _names(args.optims)
    results = compare(args.config, names, args.seeds, _lrs(args.lr), overrides(args),
                      runs_root=Path(args.runs) / "compare_runs", progress=not args.quiet)
    out = Path(args.out) if args.out else Path(args.runs) / "compare" / Path(args.config).stem
    path = write_report(results, out, Path(args.config).name)
    print_table(*summary_rows(results))
    print(f"report: {path}")
    return 0
