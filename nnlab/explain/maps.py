"""``nnlab explain RUN IMAGE... --method M``: attribution maps overlaid on the images, one PNG per image.

Every check (run's task, method, layer, target class, image files and channels) happens before any map is
computed, so a mistake costs nothing and says what to type instead.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from nnlab.errors import UserError
from nnlab.explain.attribution import Options, attribute, guided_backprop_note, resolve_layer
from nnlab.explain.common import Explained, check_target, open_classifier


@dataclass
class Request:
    """One explanation job, checked by ``prepare`` against the run."""

    method: str
    target: int | None = None  # None: each image's predicted class
    layer: str | None = None  # Grad-CAM / Grad-CAM++ layer (None: the last feature map)
    options: Options = field(default_factory=Options)
    box: int = 0  # detection runs: which detection to explain (0 = the highest score)
    pixel_class: int | None = None  # segmentation runs: the class whose pixels' logits are explained
    region: tuple[int, int, int, int] | None = None  # segmentation: x1,y1,x2,y2 instead of the predicted pixels
    reduce: str = "sum"  # segmentation: sum or mean of the logits over the pixels


def prepare(run: Explained, req: Request) -> tuple[str | None, str | None]:
    """Check the request against the run before any work; the resolved layer and a note to show the user."""
    p = run.preprocess
    layer = resolve_layer(run.model, req.method, req.layer, (p.channels, p.height, p.width))
    check_target(req.target, run.classes)
    note = guided_backprop_note(run.model) if req.method == "guided_backprop" else None
    return layer, note


def explain_tensor(run: Explained, x: torch.Tensor, req: Request, layer: str | None
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Maps (N, H, W), the explained classes (N,) and their probabilities (N,) for inputs (N, C, H, W)."""
    with torch.no_grad():
        probs = run.model(x).softmax(1)  # (N, K)
    target = probs.argmax(1) if req.target is None else torch.full((len(x),), req.target, dtype=torch.long)
    maps = attribute(run.model, x, req.method, target, layer, with_baseline(run, req.options))
    return maps, target, probs.gather(1, target[:, None]).squeeze(1)


def explain_images(run_dir: str | Path, images: Sequence[str | Path], req: Request, out: str | Path
                   ) -> list[dict[str, Any]]:
    """Write ``<stem>_<method>.png`` (overlay) and ``.npy`` (raw map) per image into ``out``; one record each."""
    if not images:
        raise UserError("give at least one image to explain")
    run = open_classifier(run_dir, tasks=("classify", "detect", "segment"))
    if run.task == "segment":
        return explain_segments(run, images, req, Path(out))
    if req.pixel_class is not None or req.region is not None:
        raise UserError(f"--pixel-class and --region are for segmentation runs; {run.name} is a {run.task!r} run")
    if run.task == "detect":
        return explain_boxes(run, images, req, Path(out))
    layer, note = prepare(run, req)
    x = run.load_images(images)  # (N, C, H, W), channels checked
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    maps, target, prob = explain_tensor(run, x, req, layer)
    pixels = run.to_pixels(x)
    results = []
    for i, path in enumerate(images):
        stem = f"{Path(path).stem}_{req.method.replace('+', 'p')}"
        title = f"{req.method}{f' @ {layer}' if layer else ''}: {run.classes[int(target[i])]} (p={prob[i]:.2f})"
        png = overlay_png(pixels[i], maps[i].numpy(), out / f"{stem}.png", title)
        np.save(out / f"{stem}.npy", maps[i].numpy())
        results.append({"image": str(path), "class": run.classes[int(target[i])], "index": int(target[i]),
                        "prob": float(prob[i]), "png": str(png), "layer": layer, "note": note})
    return results


def explain_boxes(run: Explained, images: Sequence[str | Path], req: Request, out: Path) -> list[dict[str, Any]]:
    """Detection runs: the map of detection ``req.box``'s score per image, the box drawn on the overlay."""
    from nnlab.explain.detection import explain_box

    if req.target is not None:
        raise UserError("a detection run explains one detected box: use --box N (0 = the highest score), not --target")
    xs = run.load_images(images).split(1)  # every file checked first, each (1, C, H, W)
    out.mkdir(parents=True, exist_ok=True)
    opts = with_baseline(run, req.options)
    results = []
    for path, x in zip(images, xs):
        heat, found = explain_box(run.model, x, req.box, req.method, req.layer, opts)
        name = run.classes[found["label"]]
        stem = f"{Path(path).stem}_box{req.box}_{req.method.replace('+', 'p')}"
        title = f"{req.method}: box {req.box} {name} (score {found['score']:.2f})"
        png = overlay_png(run.to_pixels(x)[0], heat.numpy(), out / f"{stem}.png", title, found["box"])
        np.save(out / f"{stem}.npy", heat.numpy())
        results.append({"image": str(path), "class": name, "index": found["label"], "prob": found["score"],
                        "box": found["box"], "png": str(png), "layer": found["layer"], "note": None})
    return results


def with_baseline(run: Explained, opts: Options) -> Options:
    """The options with integrated gradients' baseline set to a black image of the run's preprocessing."""
    if opts.baseline is not None:
        return opts
    return Options(opts.steps, opts.window, opts.stride, run.pixel_range()[0], opts.probability)


def explain_segments(run: Explained, images: Sequence[str | Path], req: Request, out: Path) -> list[dict[str, Any]]:
    """Segmentation runs: the map of class ``req.pixel_class``'s logits over its predicted pixels (or
    ``req.region``) per image; the explained pixels outlined on the overlay."""
    from nnlab.explain.segmentation import check_pixel_class, explain_pixels

    if req.target is not None or req.box:
        raise UserError("a segmentation run explains one class's pixels: use --pixel-class C, not --target / --box")
    cls = check_pixel_class(req.pixel_class, run.classes)
    x = run.load_images(images)  # (N, C, H, W), channels checked
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for i, path in enumerate(images):
        heat, mask, layer, score = explain_pixels(run.model, x[i:i + 1], cls, req.method, req.layer,
                                                  with_baseline(run, req.options), req.region, req.reduce,
                                                  run.classes)
        stem = f"{Path(path).stem}_class{cls}_{req.method.replace('+', 'p')}"
        title = (f"{req.method}{f' @ {layer}' if layer else ''}: {run.classes[cls]}, {int(mask.sum())} px "
                 f"({req.reduce} of logits {score:.2f})")
        png = overlay_png(run.to_pixels(x[i:i + 1])[0], heat.numpy(), out / f"{stem}.png", title, mask=mask.numpy())
        np.save(out / f"{stem}.npy", heat.numpy())
        results.append({"image": str(path), "class": run.classes[cls], "index": cls, "prob": score,
                        "pixels": int(mask.sum()), "png": str(png), "layer": layer, "note": None})
    return results


def overlay_png(image: np.ndarray, heat: np.ndarray, path: Path, title: str = "",
                box: Sequence[float] | None = None, mask: np.ndarray | None = None) -> Path:
    """The image (H, W, C) uint8 beside it with the map (H, W) overlaid in 'jet', scaled to its own maximum;
    ``box`` (xyxy) drawn on both, the outline of ``mask`` (H, W) too."""
    from matplotlib.patches import Rectangle

    from nnlab.plots import plt

    heat = heat / heat.max() if heat.max() > 0 else heat
    img = image.squeeze(-1) if image.shape[-1] == 1 else image
    fig, axes = plt.subplots(1, 2, figsize=(5, 2.8))
    for ax in axes:
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255)
        ax.axis("off")
    axes[1].imshow(heat, cmap="jet", alpha=0.5, vmin=0, vmax=1)
    if box is not None:
        for ax in axes:
            ax.add_patch(Rectangle((box[0] - 0.5, box[1] - 0.5), box[2] - box[0], box[3] - box[1], fill=False,
                                   edgecolor="lime", linewidth=1.2))
    if mask is not None and mask.any() and not mask.all():
        for ax in axes:
            ax.contour(mask.astype(float), levels=[0.5], colors="lime", linewidths=1.0)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
