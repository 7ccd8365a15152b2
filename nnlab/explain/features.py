"""Looking at the network itself (CS231n; DIGITS' weights and activations per layer): first-layer filters,
feature maps per layer, a t-SNE of the penultimate features, and nearest neighbours in feature vs pixel space."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from nnlab.errors import UserError
from nnlab.explain.common import Explained, collect, find_layer, named_layers

MAX_TILES = 64  # channels / filters drawn per grid


def _unit(t: torch.Tensor) -> torch.Tensor:
    """Scale each tile (C, H, W) to [0, 1] on its own range, so weak filters stay visible."""
    lo, hi = t.amin(), t.amax()
    return (t - lo) / (hi - lo) if hi > lo else torch.zeros_like(t)


def filter_tiles(run: Explained, layer: str | None = None) -> tuple[str, list[torch.Tensor]]:
    """The weights of a Conv2d (each kernel, RGB when it reads 3 channels) or of a Linear that reads the image
    (each row as an image: a linear classifier's templates); default: the first such layer."""
    model, p = run.model, run.preprocess
    n_pixels = p.channels * p.height * p.width
    kinds = [n for n, m in model.named_modules()
             if isinstance(m, nn.Conv2d) or (isinstance(m, nn.Linear) and m.in_features == n_pixels)]
    name = layer if layer is not None else (kinds[0] if kinds else None)
    if name is None:
        raise UserError("this model has no convolution and no linear layer on the pixels to draw")
    module = find_layer(model, name, (nn.Conv2d, nn.Linear), "a convolution or a linear layer")
    w = module.weight.detach().float().cpu()
    if isinstance(module, nn.Linear):
        if w.shape[1] != n_pixels:
            raise UserError(f"linear layer {name!r} does not read the image; its weights are not pictures "
                            f"(layers that are: {', '.join(kinds)})")
        return name, [_unit(r.view(p.channels, p.height, p.width)) for r in w[:MAX_TILES]]  # (C, H, W) each
    if w.shape[1] == 3:
        return name, [_unit(k) for k in w[:MAX_TILES]]  # (3, kh, kw): colour filters
    per = max(1, min(w.shape[1], MAX_TILES // min(w.shape[0], MAX_TILES)))
    return name, [_unit(k[None]) for o in w[:MAX_TILES] for k in o[:per]][:MAX_TILES]  # (1, kh, kw)


def mosaic_png(tiles: list[torch.Tensor], out: str | Path, title: str, cols: int = 8) -> Path:
    """Tiles (C, H, W) in [0, 1] of one size as one image with 1-pixel gaps: one imshow, fast for many tiles."""
    from nnlab.plots import plt

    c, h, w = tiles[0].shape
    cols = max(1, min(cols, len(tiles)))
    rows = -(-len(tiles) // cols)
    sheet = torch.ones(c, rows * (h + 1) - 1, cols * (w + 1) - 1)
    for i, t in enumerate(tiles):
        r, k = divmod(i, cols)
        sheet[:, r * (h + 1): r * (h + 1) + h, k * (w + 1): k * (w + 1) + w] = t
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(min(10, 1 + 0.6 * cols * max(1, w / 8)), min(10, 1 + 0.6 * rows * max(1, h / 8))))
    ax.imshow(sheet.permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray" if c == 1 else None, vmin=0, vmax=1,
              interpolation="nearest")
    ax.axis("off")
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def filters_png(run: Explained, out: str | Path, layer: str | None = None) -> Path:
    """The chosen layer's weights as an image grid."""
    name, tiles = filter_tiles(run, layer)
    return mosaic_png(tiles, out, f"{run.name}: weights of {name} ({len(tiles)} shown)")


def activations(model: nn.Module, x: torch.Tensor, prefix: str = "") -> dict[str, torch.Tensor]:
    """Every leaf layer's output on one input (1, C, H, W), by name (``prefix`` + its name in ``model``: a
    detector's backbone is shown as ``backbone.<layer>``), in the order they ran."""
    found: dict[str, torch.Tensor] = {}

    def keep(name: str, out: Any) -> None:
        if isinstance(out, torch.Tensor) and name not in found:
            found[name] = out.detach()[0]

    hooks = [m.register_forward_hook(lambda _m, _i, out, n=prefix + n: keep(n, out)) for n, m in named_layers(model)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return found


def activations_pngs(run: Explained, image: str | Path, out: str | Path) -> list[Path]:
    """One grid per layer of the image's feature maps (``NN_<layer>.png``); vectors as a one-row strip."""
    x = run.load_images([image])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    if run.task == "detect":  # a detector's features are its backbone's; its head's outputs are box codes
        from nnlab.explain.detector_views import detector_of

        found = activations(detector_of(run, "explain activations").backbone, x, "backbone.")
    else:
        found = activations(run.model, x)
    for i, (name, a) in enumerate(found.items()):
        tiles = [_unit(c[None]) for c in a[:MAX_TILES]] if a.dim() == 3 else [_unit(a.flatten()[None, None])]
        title = f"{name}: {tuple(a.shape)}" + (f", first {MAX_TILES}" if a.dim() == 3 and len(a) > MAX_TILES else "")
        paths.append(mosaic_png(tiles, out / f"{i:02d}_{name}.png", title, cols=8 if a.dim() == 3 else 1))
    return paths


def penultimate(model: nn.Module, x: torch.Tensor, batch: int = 512) -> torch.Tensor:
    """The features the last Linear layer reads (N, D): what the classifier separates linearly."""
    heads = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not heads:
        raise UserError("this model has no final linear layer to read features from")
    return collect(model, heads[-1], x, lambda inp, _out: inp[0].flatten(1), batch)


def embed_png(run: Explained, out: str | Path, split: str = "test", limit: int = 1000, seed: int = 0) -> Path:
    """t-SNE (scikit-learn) of the penultimate features of up to ``limit`` images of a split, coloured by class;
    for a detection run, of its backbone's features of the split's objects (detector_views.object_split)."""
    if run.task == "detect":
        from nnlab.explain.detector_views import object_split

        f, y, _ = object_split(run, split, limit)
        what = f"backbone features of objects ({split}, {len(f)} boxes)"
    else:
        x, y = run.split(split, limit)
        if len(x) < 5:
            raise UserError(f"the {split} split has {len(x)} images; t-SNE needs at least 5")
        f = penultimate(run.model, x)
        what = f"penultimate features ({split}, {len(f)} images)"
    return tsne_png(f, y, run.classes, f"{run.name}: t-SNE of {what}", out, seed)


def tsne_png(f: torch.Tensor, y: torch.Tensor, classes: list[str], title: str, out: str | Path, seed: int = 0
             ) -> Path:
    """t-SNE (scikit-learn) of features (N, D) as a scatter coloured by label (N,)."""
    from sklearn.manifold import TSNE

    from nnlab.plots import plt

    if len(f) < 5:
        raise UserError(f"t-SNE needs at least 5 points, got {len(f)}")
    xy = TSNE(2, perplexity=min(30.0, (len(f) - 1) / 3), init="pca", random_state=seed).fit_transform(f.numpy())
    fig, ax = plt.subplots(figsize=(5.5, 5))
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for k, name in enumerate(classes):
        m = (y == k).numpy()
        ax.scatter(xy[m, 0], xy[m, 1], s=6, color=cmap(k % cmap.N), label=name)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([]), ax.set_yticks([])
    ax.legend(fontsize=6, markerscale=2, loc="best")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def nearest(spaces: dict[str, tuple[torch.Tensor, torch.Tensor]], y: torch.Tensor, k: int
            ) -> dict[str, list[tuple[int, int, float]]]:
    """Per space {name: (query (1, D), candidates (N, D))}: the ``k`` nearest candidates by L2 distance as
    (index, label, distance)."""
    if k < 1:
        raise UserError("--k must be at least 1")
    found = {}
    for space, (fq, fx) in spaces.items():
        d = torch.cdist(fq, fx)[0]  # (N,)
        dist, idx = d.topk(min(k, len(d)), largest=False)
        found[space] = [(int(i), int(y[i]), float(v)) for i, v in zip(idx, dist)]
    return found


def neighbours(run: Explained, image: str | Path, k: int = 5, split: str = "train"
               ) -> dict[str, list[tuple[int, int, float]]]:
    """The ``k`` nearest images of a split to a file, by L2 distance in penultimate-feature space and in pixel
    space: {"feature"|"pixel": [(index, label, distance), ...]}."""
    if k < 1:
        raise UserError("--k must be at least 1")
    q = run.load_images([image])  # (1, C, H, W)
    x, y = run.split(split)
    return nearest({"feature": (penultimate(run.model, q), penultimate(run.model, x)),
                    "pixel": (q.flatten(1), x.flatten(1))}, y, k)


def neighbours_png(run: Explained, image: str | Path, found: dict[str, list[tuple[int, int, float]]],
                   out: str | Path, split: str = "train") -> Path:
    """The query, then its neighbours in feature space (row 1) and pixel space (row 2), titled with class."""
    x, _ = run.split(split)
    query = run.load_images([image])
    return neighbours_grid(run, query, x, found, out, f"nearest {split} images")


def neighbours_grid(run: Explained, query: torch.Tensor, x: torch.Tensor,
                    found: dict[str, list[tuple[int, int, float]]], out: str | Path, what: str) -> Path:
    """The query (1, C, h, w), then its neighbours among x (N, C, h, w) (normalized inputs) in feature space
    (row 1) and pixel space (row 2), titled with class and distance."""
    from nnlab.plots import image_grid_png

    k = len(found["feature"])
    tiles, titles = [], []
    for space in ("feature", "pixel"):
        tiles.append(torch.from_numpy(run.to_pixels(query)[0]).permute(2, 0, 1) / 255)
        titles.append(f"query ({space})")
        for i, label, dist in found[space]:
            tiles.append(torch.from_numpy(run.to_pixels(x[i:i + 1])[0]).permute(2, 0, 1) / 255)
            titles.append(f"{run.classes[label]} d={dist:.1f}")
    return image_grid_png(tiles, out, cols=k + 1, titles=titles,
                          title=f"{run.name}: {what}, feature space (top) vs pixel space (bottom)")
