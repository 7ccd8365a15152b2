"""What the network will see: a grid of augmented (and mixed) training samples with their labels."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from nnlab import config as cfgmod
from nnlab.api import build_data, build_train_hooks, validate
from nnlab.config import Config
from nnlab.errors import UserError


def augmented_samples(cfg: Config, n: int = 16, seed: int | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """``n`` random training samples through the training transform: pixels in [0, 1] (n, C, H, W),
    soft targets (n, K) or class ids (n,), and the class names."""
    if n < 1:
        raise UserError("--n must be at least 1")
    validate(cfg)
    splits, pre = build_data(cfg, progress=False)
    train, seed = splits["train"], cfg.seed if seed is None else seed
    torch.manual_seed(seed)  # the transform draws from the global RNG, as in training
    idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:n]
    x, y = pre.normalize(train.images[idx]), train.labels[idx]
    transform, _ = build_train_hooks(cfg, pre, len(train.classes))
    if transform is not None:
        x, y = transform(x, y)
    mean, std = torch.tensor(pre.mean).view(1, -1, 1, 1), torch.tensor(pre.std).view(1, -1, 1, 1)
    return (x * std + mean).clamp(0, 1), y, train.classes


def label_text(target: torch.Tensor, classes: Sequence[str]) -> str:
    """``7`` for a hard label; ``7 .62 / 3 .38`` for the two largest weights of a soft one."""
    if target.ndim == 0:
        return classes[int(target)]
    if float(target.max()) > 0.995:
        return classes[int(target.argmax())]
    w, i = target.topk(min(2, len(classes)))
    parts = [f"{classes[int(c)]} {float(p):.2f}" for p, c in zip(w, i) if p >= 0.05]
    return " / ".join(parts)


def augment_preview(config: str | Path | Config, overrides: Sequence[str] = (), n: int = 16,
                    out: str | Path = "augment_preview.png", seed: int | None = None) -> Path:
    """Write a PNG grid of ``n`` augmented training samples titled with their (mixed) labels."""
    from nnlab.plots import plt  # matplotlib only when a figure is drawn

    cfg = config if isinstance(config, Config) else cfgmod.load(config, list(overrides))
    pixels, targets, classes = augmented_samples(cfg, n, seed)
    cols = min(n, 8)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 2.0 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, t in zip(axes.flat, pixels, targets):
        ax.imshow(img.permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(label_text(t, classes), fontsize=7)
    fig.suptitle(f"{cfg.run_name}: augmented training samples", fontsize=9)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
