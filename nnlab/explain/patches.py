"""``nnlab explain max-patches RUN --layer L --unit U``: the dataset patches that activate one unit most
(CS231n; Girshick et al. 2014's "maximally activating patches"). A conv unit's patch is its receptive field at
the strongest position, found as the box of input pixels its activation has a gradient for."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from nnlab.errors import UserError
from nnlab.explain.common import Explained, check_unit, collect, layer_output


def _outputs(model: nn.Module, layer: str, x: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """The layer's outputs for every input, (N, K, h, w) or (N, K)."""
    return collect(model, model.get_submodule(layer), x, lambda _inp, out: out, batch)


def receptive_box(model: nn.Module, layer: str, x: torch.Tensor, unit: int, pos: tuple[int, int]
                  ) -> tuple[int, int, int, int]:
    """(top, left, bottom, right), exclusive, of the input pixels that reach ``unit`` at ``pos`` on input x (1, C,
    H, W); the whole image when the activation has no gradient there."""
    xi = x.clone().requires_grad_(True)
    grad, = torch.autograd.grad(layer_output(model, layer, xi)[0, unit, pos[0], pos[1]], xi)
    rows, cols = torch.nonzero(grad[0].abs().sum(0) > 0, as_tuple=True)
    if len(rows) == 0:
        return 0, 0, x.shape[2], x.shape[3]
    return int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1


def max_patches(run: Explained, layer: str, unit: int, k: int = 16, split: str = "train", limit: int = 5000
                ) -> list[tuple[int, float, tuple[int, int, int, int]]]:
    """The ``k`` strongest (image index, activation, box) for one unit over up to ``limit`` images of a split;
    one patch per image (its strongest position)."""
    check_unit(run, layer, unit)
    p = run.preprocess
    if k < 1:
        raise UserError("--k must be at least 1")
    x, _ = run.split(split, limit)
    a = _outputs(run.model, layer, x)[:, unit]  # (N, h, w) or (N,)
    flat = a.flatten(1) if a.dim() == 3 else a[:, None]  # (N, positions)
    best, where = flat.max(1)  # (N,)
    found = []
    for i in best.topk(min(k, len(best))).indices.tolist():
        if a.dim() == 3:
            pos = divmod(int(where[i]), a.shape[2])
            box = receptive_box(run.model, layer, x[i:i + 1], unit, pos)
        else:
            box = (0, 0, p.height, p.width)  # a fully connected unit sees the whole image
        found.append((i, float(best[i]), box))
    return found


def max_patches_png(run: Explained, found: list[tuple[int, float, tuple[int, int, int, int]]], layer: str,
                    unit: int, out: str | Path, split: str = "train") -> Path:
    """The patches, each resized to the largest patch's size, in a grid titled with their activation."""
    from nnlab.plots import image_grid_png

    x, _ = run.split(split, max(i for i, _, _ in found) + 1)
    h = max(b[2] - b[0] for _, _, b in found)
    w = max(b[3] - b[1] for _, _, b in found)
    tiles, titles = [], []
    for i, act, (t, l, b, r) in found:
        img = torch.from_numpy(run.to_pixels(x[i:i + 1])[0]).permute(2, 0, 1).float()[None] / 255
        patch = nn.functional.interpolate(img[:, :, t:b, l:r], size=(h, w), mode="nearest")[0]
        tiles.append(patch)
        titles.append(f"#{i} {act:.2f}")
    return image_grid_png(tiles, out, cols=8, titles=titles, title=f"{run.name}: {layer} unit {unit}, top patches")
