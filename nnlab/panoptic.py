"""Panoptic segmentation from two trained runs: an instance model (``task: detect`` with ``mask_rcnn``: the
things) and a semantic segmenter (``task: segment``: the stuff), merged into one map per image by Kirillov et
al.'s rules (``nnlab.models.segmentation.panoptic.merge_panoptic``) and scored with PQ = SQ x RQ per class
(``nnlab.metrics.segmentation.PanopticQuality``). ``nnlab panoptic INSTANCE_RUN SEMANTIC_RUN``.

The images and ground truth are the instance run's split (its instance masks; the stuff is every pixel no
instance covers, so the semantic run must name exactly one class besides the instance run's classes, e.g.
Penn-Fudan's background, the digit scenes' background). The semantic run must not have trained on them.
Pixels the merge leaves to no segment (the semantic run says "thing" but no instance claims them; stuff
regions under ``stuff_area``) are scored as the stuff: the metric (like torchmetrics') excuses a target
segment that is mostly void in the prediction, so a missed instance would otherwise not count as a false
negative, as it does in COCO's panopticapi. ``void_fraction`` reports how many pixels that concerned.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from nnlab.api import run_data
from nnlab.data import Preprocess
from nnlab.data.masks import semantic_from_instances, voc_palette
from nnlab.engine.runs import RunDir
from nnlab.errors import UserError
from nnlab.inference import LoadedRun, load_run
from nnlab.metrics.segmentation import PanopticQuality
from nnlab.models.segmentation.panoptic import VOID, instances_to_panoptic, merge_panoptic

Targets = list[dict[str, torch.Tensor]]


def pair_classes(instance: Sequence[str], semantic: Sequence[str]) -> tuple[list[int], list[int]]:
    """(semantic id of each instance class, the stuff ids): the thing classes are found by name among the
    semantic run's classes; the one class left is the stuff."""
    missing = [c for c in instance if c not in semantic]
    if missing:
        raise UserError(f"the semantic run has no class {missing[0]!r} of the instance run (its classes: "
                        f"{list(semantic)}): train both on the same data")
    things = [list(semantic).index(c) for c in instance]
    stuffs = [i for i in range(len(semantic)) if i not in things]
    if len(stuffs) != 1:
        raise UserError(f"the stuff is every pixel no instance covers, so the semantic run needs exactly one class "
                        f"besides the instance classes; it has {[semantic[i] for i in stuffs]}")
    return things, stuffs


class PanopticEvaluator:
    """Merges each image's instances and semantic logits and accumulates PQ; keeps the first ``keep`` maps."""

    def __init__(self, things: list[int], stuffs: list[int], score_threshold: float = 0.5,
                 overlap_threshold: float = 0.5, stuff_area: int = 64, keep: int = 6) -> None:
        self.things, self.stuffs = torch.tensor(things), stuffs
        self.options = {"score_threshold": score_threshold, "overlap_threshold": overlap_threshold,
                        "stuff_area": stuff_area}
        self.metric = PanopticQuality(things, stuffs)
        self.count, self.keep, self.void_pixels = 0, keep, 0
        self.shown: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []  # (image, truth, prediction)

    def update(self, images: torch.Tensor, targets: Targets, found: Targets, logits: torch.Tensor) -> None:
        """``images`` uint8 (B, C, H, W); ``targets`` / ``found`` per image with instance ``masks`` and 0-based
        labels; ``logits`` (B, K, H, W) of the semantic run."""
        size = images.shape[-2:]
        truth = torch.stack([instances_to_panoptic(semantic_from_instances([t], size)[0], t["masks"],
                                                   self.things[t["labels"].cpu()], self.stuffs) for t in targets])
        pred = torch.stack([merge_panoptic(lg.cpu(), f["masks"].cpu(), f["scores"].cpu(),
                                           self.things[f["labels"].cpu()], self.stuffs, **self.options)[0]
                            for lg, f in zip(logits, found)])  # (B, H, W, 2)
        void = pred[..., 0] == VOID  # (B, H, W) left to no segment by the merge
        self.void_pixels += int(void.sum())
        pred[void] = torch.tensor([self.stuffs[0], 0])
        self.metric.update(pred, truth)
        self.count += len(images)
        self.shown += list(zip(images, truth, pred))[: max(self.keep - len(self.shown), 0)]

    def compute(self, names: Sequence[str]) -> dict[str, Any]:
        """pq / sq / rq and a per-class table (``names``: the semantic run's class names)."""
        m = self.metric.compute()
        per_class = {names[c]: {k: float(m[f"{k}_per_class"][i]) for k in ("pq", "sq", "rq")}
                     for i, c in enumerate(self.metric.categories)}
        for i, c in enumerate(self.metric.categories):
            per_class[names[c]].update(tp=int(self.metric.tp[i]), fp=int(self.metric.fp[i]), fn=int(self.metric.fn[i]))
        pixels = max(sum(t.shape[0] * t.shape[1] for _, t, _ in self.shown[:1]) * self.count, 1)
        return {"pq": float(m["pq"]), "sq": float(m["sq"]), "rq": float(m["rq"]), "count": self.count,
                "void_fraction": self.void_pixels / pixels, "per_class": per_class}


def evaluate_panoptic(instance_run: str | Path, semantic_run: str | Path, split: str = "test",
                      score_threshold: float = 0.5, overlap_threshold: float = 0.5, stuff_area: int = 64,
                      batch_size: int = 16) -> dict[str, Any]:
    """PQ / SQ / RQ of the two runs merged on the instance run's ``split``, per class, and a PNG of the maps."""
    inst, sem = load_run(instance_run), load_run(semantic_run)
    _check_runs(inst, sem)
    things, stuffs = pair_classes(inst.meta["classes"], sem.meta["classes"])
    data = run_data(inst.dir, inst.config).split(split)
    if not data.targets or any("masks" not in t for t in data.targets):
        raise UserError(f"the instance run's {split} split has no instance masks to score things against")
    _check_unseen(data.images, run_data(sem.dir, sem.config).split("train").images, split)
    ev = PanopticEvaluator(things, stuffs, score_threshold, overlap_threshold, stuff_area)
    detect, segment = _model(inst, lambda m, x: inst.task.detect(m, x)), _model(sem, lambda m, x: m(x).float())
    for start in range(0, len(data), batch_size):
        x, targets = data.images[start: start + batch_size], data.targets[start: start + batch_size]
        found = detect(x)
        if any("masks" not in f for f in found):
            raise UserError(f"{inst.dir.name} predicts no instance masks: train mask_rcnn (model.name: mask_rcnn)")
        ev.update(x, targets, found, segment(x))
    out = {"split": split, **ev.compute(sem.meta["classes"])}
    png = RunDir(inst.dir).eval / f"panoptic_{split}.png"
    out["panoptic_png"] = str(panoptic_grid(ev.shown, png, sem.meta.get("palette") or voc_palette(len(things) + 1)))
    return out


def _model(run: LoadedRun, call: Callable[[torch.nn.Module, torch.Tensor], Any]) -> Callable[[torch.Tensor], Any]:
    """uint8 images -> the run's output, normalized by the run's own preprocessing, without gradients."""
    pre = Preprocess(**run.meta["preprocess"])

    def apply(x: torch.Tensor) -> Any:
        with torch.inference_mode():
            return call(run.model, pre.normalize(x.to(run.device)))
    return apply


def _check_runs(inst: LoadedRun, sem: LoadedRun) -> None:
    if inst.config.task != "detect" or sem.config.task != "segment":
        raise UserError(f"nnlab panoptic takes an instance run (task detect, mask_rcnn) and a semantic run (task "
                        f"segment); got {inst.config.task} and {sem.config.task}")
    a, b = Preprocess(**inst.meta["preprocess"]), Preprocess(**sem.meta["preprocess"])
    if (a.channels, a.height, a.width) != (b.channels, b.height, b.width):
        raise UserError(f"the runs read different images: {a.channels}x{a.height}x{a.width} (instance) vs "
                        f"{b.channels}x{b.height}x{b.width} (semantic); set the same data.image_size")


def _check_unseen(images: torch.Tensor, semantic_train: torch.Tensor, split: str) -> None:
    """Refuse when the semantic run trained on any of the evaluated images (compared by their pixels)."""
    seen = {hashlib.blake2b(im.numpy().tobytes(), digest_size=16).digest() for im in semantic_train}
    leaked = sum(hashlib.blake2b(im.numpy().tobytes(), digest_size=16).digest() in seen for im in images)
    if leaked:
        raise UserError(f"the semantic run trained on {leaked} of the {len(images)} {split} images: split both runs "
                        "alike (same data, seed, val_fraction and test_fraction)")


def colorize(panoptic: torch.Tensor, palette: Sequence[Sequence[int]]) -> torch.Tensor:
    """(H, W, 2) panoptic map -> uint8 (3, H, W): stuff in its class colour (dark grey for a black one), each
    instance its own colour, void black."""
    cat, inst = panoptic[..., 0], panoptic[..., 1]
    colours = [list(c) if any(c) else [64, 64, 64] for c in palette]
    table = torch.tensor(colours + [[0, 0, 0]] * max(0, 256 - len(palette)), dtype=torch.uint8)
    out = table[cat.clamp(max=255)].clone()  # (H, W, 3)
    out[cat == VOID] = 0
    g = torch.Generator().manual_seed(0)
    colours = torch.randint(64, 256, (int(inst.max()) + 1, 3), generator=g, dtype=torch.uint8)
    out[inst > 0] = colours[inst[inst > 0]]
    return out.permute(2, 0, 1)


def panoptic_grid(shown: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], png: Path,
                  palette: Sequence[Sequence[int]]) -> Path:
    """Rows of (image, ground truth, merged prediction) as one PNG."""
    from PIL import Image

    rows = [torch.cat([img.expand(3, -1, -1), colorize(t, palette), colorize(p, palette)], 2) for img, t, p in shown]
    png.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(torch.cat(rows, 1).permute(1, 2, 0).numpy()).save(png)
    return png
