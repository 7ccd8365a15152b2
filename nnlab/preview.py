"""What the network will see: a grid of augmented (and mixed) training samples with their labels."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from nnlab import config as cfgmod
from nnlab.api import validate
from nnlab.config import Config
from nnlab.data import Preprocess
from nnlab.tasks.classify import build_train_hooks, load_classification_data
from nnlab.errors import UserError


def augmented_samples(cfg: Config, n: int = 16, seed: int | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """``n`` random training samples through the training transform: pixels in [0, 1] (n, C, H, W),
    soft targets (n, K) or class ids (n,), and the class names."""
    if n < 1:
        raise UserError("--n must be at least 1")
    validate(cfg)
    if cfg.task != "classify":
        raise UserError(f"augment preview shows classification training batches; this config's task is {cfg.task!r}")
    data = load_classification_data(cfg, progress=False)
    pre = Preprocess(**data.info["preprocess"])
    train, seed = data.splits["train"], cfg.seed if seed is None else seed
    torch.manual_seed(seed)  # the transform draws from the global RNG, as in training
    idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:n]
    x, y = pre.normalize(train.images[idx]), train.labels[idx]
    transform, _ = build_train_hooks(cfg, pre, len(train.classes))
    if transform is not None:
        x, y = transform(x, y)
    return pre.pixels(x), y, train.classes


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
    from nnlab.plots import image_grid_png  # matplotlib only when a figure is drawn

    cfg = config if isinstance(config, Config) else cfgmod.load(config, list(overrides))
    pixels, targets, classes = augmented_samples(cfg, n, seed)
    return image_grid_png(list(pixels), out, cols=8, titles=[label_text(t, classes) for t in targets],
                          title=f"{cfg.run_name}: augmented training samples")
