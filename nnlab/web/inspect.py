"""Look inside a trained network for one input, as DIGITS showed: per-layer weight and activation
statistics, plus images of the first feature maps of each convolutional activation."""
from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

import nnlab
from nnlab.errors import UserError

MAX_MAPS = 8  # feature maps shown per layer


def _stats(t: torch.Tensor) -> dict[str, float]:
    t = t.detach().float()
    return {"mean": t.mean().item(), "std": t.std(unbiased=False).item(), "min": t.min().item(),
            "max": t.max().item(), "zeros": (t == 0).float().mean().item()}


def _png(maps: torch.Tensor) -> str:
    """Feature maps (M, H, W) side by side, each min-max scaled, as a base64 PNG (scaled up to >= 64 px)."""
    tiles = []
    for m in maps:
        lo, hi = m.min(), m.max()
        tiles.append(((m - lo) / (hi - lo + 1e-12) * 255).to(torch.uint8).numpy())
    pad = np.full((maps.shape[1], 2), 255, np.uint8)
    strip = np.concatenate([x for t in tiles for x in (t, pad)][:-1], axis=1)
    scale = max(1, 64 // maps.shape[1])
    img = Image.fromarray(strip).resize((strip.shape[1] * scale, strip.shape[0] * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def inspect_image(run_dir: str | Path, image: str | Path) -> dict[str, Any]:
    """Top-5 prediction and one row per leaf layer: weight stats, activation shape and stats, maps."""
    run = nnlab.load_run(run_dir)
    if run.config.task != "classify":
        raise UserError(f"inspect shows a classifier's layers and top-5; this is a {run.config.task} run")
    x = run.preprocess.load_files([image]).to(run.device)  # (1, C, H, W)
    layers: list[dict[str, Any]] = []
    hooks = []
    for name, module in run.model.named_modules():
        if any(True for _ in module.children()):
            continue

        def hook(mod: torch.nn.Module, _inp: Any, out: Any, name: str = name) -> None:
            if not isinstance(out, torch.Tensor):
                return
            row: dict[str, Any] = {"name": name or "model", "type": type(mod).__name__,
                                   "shape": list(out.shape[1:]), "activation": _stats(out)}
            weight = getattr(mod, "weight", None)
            if isinstance(weight, torch.Tensor):
                row["weight"] = {"shape": list(weight.shape), **_stats(weight)}
            if out.dim() == 4:
                row["maps_png"] = _png(out[0, :MAX_MAPS].float().cpu())
            layers.append(row)

        hooks.append(module.register_forward_hook(hook))
    try:
        with torch.inference_mode():
            probs = run.model(x).float().softmax(1)[0]
    finally:
        for h in hooks:
            h.remove()
    p, idx = probs.topk(min(5, len(run.classes)))
    top = [{"class": run.classes[i], "prob": q} for q, i in zip(p.tolist(), idx.tolist())]
    return {"input_png": _png(x[0].float().cpu()), "top": top, "layers": layers}


def explain_upload(run_dir: str | Path, image: str | Path, method: str, target: int | None = None) -> dict[str, Any]:
    """One attribution map for an uploaded image, as an overlay PNG (base64), with the explained class. Unlike
    ``inspect_image`` this needs gradients, so it runs outside inference mode."""
    import tempfile

    from nnlab.explain import Request, explain_images

    with tempfile.TemporaryDirectory() as tmp:
        [r] = explain_images(run_dir, [image], Request(method, target), tmp)
        png = base64.b64encode(Path(r["png"]).read_bytes()).decode()
    return {"png": png, "class": r["class"], "prob": r["prob"], "method": method, "layer": r["layer"],
            "note": r["note"]}
