"""nnlab lr-plot CONFIG: a PNG of the learning rate over the whole run, before training (as DIGITS previewed it)."""
from __future__ import annotations

import argparse
from pathlib import Path

from nnlab.api import lr_preview
from nnlab.cli.options import overrides


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lr-plot", help="plot a config's learning-rate schedule before training")
    p.add_argument("config")
    p.add_argument("--out", help="PNG path (default: <config name>_lr.png in the current folder)")
    p.set_defaults(func=run, accepts_overrides=True)


def run(args: argparse.Namespace) -> int:
    from nnlab.plots import plt

    cfg, lrs, per_epoch = lr_preview(args.config, overrides(args))
    s = cfg.optim.schedule
    out = Path(args.out) if args.out else Path(f"{Path(args.config).stem}_lr.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    epochs = [i / len(lrs) * cfg.train.epochs for i in range(len(lrs))]
    ax.step(epochs, lrs, where="post")
    opts = ", ".join(f"{k}={v}" for k, v in s.args.items())
    ax.set_title(f"{cfg.optim.name}, schedule {s.name}({opts}), {'per step' if s.per_step else 'per epoch'}"
                 + (" (reductions depend on the metric)" if s.name == "plateau" else ""), fontsize=9)
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.set_xlim(0, cfg.train.epochs)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    print(f"lr from {lrs[0]:.4g} (max {max(lrs):.4g}, min {min(lrs):.4g}, last {lrs[-1]:.4g}) over "
          f"{cfg.train.epochs} epochs x {per_epoch} steps; wrote {out}")
    return 0
