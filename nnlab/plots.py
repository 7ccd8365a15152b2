"""Figures written as PNG files (matplotlib, Agg backend: no display needed)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402


def confusion_png(cm: torch.Tensor, classes: list[str], path: str | Path, title: str = "") -> Path:
    """Confusion matrix heat map, rows = true class, columns = predicted, counts in the cells."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    k = len(classes)
    size = min(4 + 0.45 * k, 30)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(cm.numpy(), cmap="Blues")
    ax.set_xticks(range(k), classes, rotation=90 if k > 10 else 0)
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if k <= 30:
        peak = max(int(cm.max()), 1)
        for i in range(k):
            for j in range(k):
                v = int(cm[i, j])
                ax.text(j, i, str(v), ha="center", va="center", fontsize=8,
                        color="white" if v > peak / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def image_grid_png(images: Sequence[torch.Tensor], path: str | Path, cols: int = 8,
                   titles: Sequence[str] | None = None, title: str = "") -> Path:
    """Images (C, H, W) with pixels in [0, 1] in a grid, optionally titled each and as a whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = max(1, min(cols, len(images)))
    rows = max(1, -(-len(images) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, (2.0 if titles else 1.6) * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, (ax, img) in enumerate(zip(axes.flat, images)):
        ax.imshow(img.permute(1, 2, 0).squeeze(-1).float().numpy(), cmap="gray", vmin=0, vmax=1)
        if titles:
            ax.set_title(titles[i], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
