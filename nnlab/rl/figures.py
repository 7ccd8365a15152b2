"""Figures of tabular solutions: V as a heat map with the greedy policy as arrows (matplotlib imported
lazily, only when a figure is written)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nnlab.rl.mdp import TabularMDP

_ARROW = {0: (-1, 0), 1: (0, -1), 2: (1, 0), 3: (0, 1)}  # left, down, right, up as (dx, dy) in plot axes
_TEXT = {0: "←", 1: "↓", 2: "→", 3: "↑"}


def value_grid(mdp: TabularMDP, V: np.ndarray) -> np.ndarray:
    """V laid out on the grid (rows, cols); walls are NaN."""
    grid = np.full(mdp.shape[0] * mdp.shape[1], np.nan)
    grid[mdp.cells] = V
    return grid.reshape(mdp.shape)


def policy_text(mdp: TabularMDP, policy: np.ndarray) -> str:
    """The greedy policy as arrows on the grid; terminal cells keep their letter (G, H), walls are #."""
    labels = mdp.labels or ["."] * (mdp.shape[0] * mdp.shape[1])
    chars = ["#" if c == "W" else c for c in labels]
    for s, cell in enumerate(mdp.cells):
        if labels[cell] not in "GHW":
            chars[cell] = _TEXT[int(policy[s])]
    cols = mdp.shape[1]
    return "\n".join(" ".join(chars[r * cols:(r + 1) * cols]) for r in range(mdp.shape[0]))


def policy_png(mdp: TabularMDP, V: np.ndarray, policy: np.ndarray, path: str | Path, title: str = "") -> Path:
    """V as a heat map, the greedy action of every non-terminal cell as an arrow, letters on special cells."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows, cols = mdp.shape
    fig, ax = plt.subplots(figsize=(1 + 0.9 * cols, 0.8 + 0.9 * rows))
    im = ax.imshow(value_grid(mdp, V), cmap="viridis")
    labels = mdp.labels or ["."] * (rows * cols)
    for s, cell in enumerate(mdp.cells):
        r, c = divmod(cell, cols)
        if labels[cell] in "GH":
            ax.text(c, r, labels[cell], ha="center", va="center", color="white", fontsize=14, weight="bold")
            continue
        dx, dy = _ARROW[int(policy[s])]
        ax.arrow(c - 0.25 * dx, r + 0.25 * dy, 0.5 * dx, -0.5 * dy, head_width=0.15, color="white",
                 length_includes_head=True)
        ax.text(c, r + 0.38, f"{V[s]:.2f}", ha="center", va="center", color="white", fontsize=7)
    for cell, ch in enumerate(labels):
        if ch == "W":
            r, c = divmod(cell, cols)
            ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), 1, 1, color="0.3"))
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, label="V(s)")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
