"""Figures of an optimizer race: a contour plot with every trajectory (PNG) and its animation (GIF)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from nnlab.optim.playground import RaceResult, TestFunction


def race_table(fn: TestFunction, results: Sequence[RaceResult], tol: float) -> tuple[list[str], list[list]]:
    """Header and rows: optimizer, lr, final loss, steps to reach f - f_min <= tol."""
    header = ["optimizer", "lr", "final loss", f"steps to f-f* <= {tol:g}", "end point"]
    rows = []
    for r in results:
        final = "diverged" if r.diverged else f"{r.losses[-1]:.4g}"
        end = f"({r.path[-1][0]:.3f}, {r.path[-1][1]:.3f})"
        rows.append([r.name, f"{r.lr:g}", final, "never" if r.steps_to_tol is None else r.steps_to_tol, end])
    return header, rows


def _background(ax, fn: TestFunction, title: str) -> None:
    (x0, x1), (y0, y1) = fn.bounds
    xs, ys = np.linspace(x0, x1, 300), np.linspace(y0, y1, 300)
    X, Y = np.meshgrid(xs, ys)
    Z = fn.fn(torch.from_numpy(X), torch.from_numpy(Y)).numpy()
    Z = np.log1p(Z - min(fn.min_value, Z.min()))  # log levels show the valleys
    ax.contour(X, Y, Z, levels=30, cmap="viridis", linewidths=0.6)
    for mx, my in fn.minima:
        ax.plot(mx, my, "*", color="gold", markersize=14, markeredgecolor="k", zorder=5)
    ax.plot(*fn.start, "o", color="k", markersize=5, zorder=5)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_title(title, fontsize=9)


def _colors(n: int) -> list:
    from nnlab.plots import plt

    cmap = plt.get_cmap("tab20" if n > 10 else "tab10")
    return [cmap(i) for i in range(n)]


def contour_png(fn: TestFunction, name: str, results: Sequence[RaceResult], path: Path) -> Path:
    from nnlab.plots import plt

    fig, ax = plt.subplots(figsize=(7, 6))
    _background(ax, fn, f"{name}: {fn.formula}")
    for r, color in zip(results, _colors(len(results))):
        ax.plot(r.path[:, 0], r.path[:, 1], "-", color=color, lw=1.4, label=f"{r.name} (lr {r.lr:g})")
        ax.plot(r.path[-1, 0], r.path[-1, 1], "o", color=color, markersize=4)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def race_gif(fn: TestFunction, name: str, results: Sequence[RaceResult], path: Path, frames: int = 60,
             fps: int = 15) -> Path:
    """Every optimizer's point moving along its trajectory (matplotlib animation written by Pillow)."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    from nnlab.plots import plt

    steps = max(len(r.path) for r in results) - 1
    ticks = np.unique(np.linspace(0, steps, frames).round().astype(int))
    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    _background(ax, fn, name)
    colors = _colors(len(results))
    lines = [ax.plot([], [], "-", color=c, lw=1.2, label=r.name)[0] for r, c in zip(results, colors)]
    dots = [ax.plot([], [], "o", color=c, markersize=5)[0] for c in colors]
    label = ax.text(0.02, 0.97, "", transform=ax.transAxes, va="top", fontsize=8)
    ax.legend(fontsize=6, loc="lower right")

    def draw(k: int):
        t = ticks[k]
        for r, line, dot in zip(results, lines, dots):
            seg = r.path[: t + 1]
            line.set_data(seg[:, 0], seg[:, 1])
            dot.set_data(seg[-1:, 0], seg[-1:, 1])
        label.set_text(f"step {t}")
        return [*lines, *dots, label]

    anim = FuncAnimation(fig, draw, frames=len(ticks), blit=True)
    anim.save(path, writer=PillowWriter(fps=fps), dpi=80)
    plt.close(fig)
    return path
