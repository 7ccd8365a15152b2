"""The explain study's pointing game: a classifier trained on one-digit scenes (Detection I's generator, so the
digit's box is known) is explained for the true class; a method scores a hit when its map's peak falls inside
the digit's box. Chance is the box's share of the image."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import torch
from PIL import Image

from nnlab.data.boxes.scenes import Scenes, generate_scenes
from nnlab.experiments.studies.report import StudyContext
from nnlab.explain.attribution import METHODS, Options, attribute, resolve_layer
from nnlab.explain.common import open_classifier
from nnlab.explain.pointing import chance, empty, pointing_hits

SIZE, SCALE = 40, (0.8, 1.1)  # 40 px scenes, digits of 22-31 px
Pointing = dict[str, tuple[float, float]]  # method -> (hit rate, chance)


def score_methods(maps_of: Callable[[str], torch.Tensor], boxes: Sequence[torch.Tensor], size: tuple[int, int],
                  log: Callable[[str], None], what: str) -> Pointing:
    """Per method: the share of maps (N, H, W) from ``maps_of(method)`` whose peak lies in the image's boxes."""
    level = chance(boxes, *size)
    found = {}
    for method in METHODS:
        maps = maps_of(method)
        hits = float(pointing_hits(maps, boxes).float().mean())
        found[method] = (hits, level)
        log(f"pointing game, {what}: {method:22s} {100 * hits:5.1f}% (chance {100 * level:.1f}%, "
            f"{int(empty(maps).sum())} of {len(maps)} maps empty)")
    return found


def write_class_folders(scenes: Scenes, root: Path) -> Path:
    """One-digit scenes as ``root/<class>/<i>.png`` (lossless), for a folder dataset."""
    for i, (img, t) in enumerate(zip(scenes.images, scenes.targets)):
        folder = root / scenes.classes[int(t["labels"][0])]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(folder / f"{i:05d}.png")
    return root


def classifier_pointing(run_dir: Path, images: torch.Tensor, target: torch.Tensor, boxes: Sequence[torch.Tensor],
                        log: Callable[[str], None], what: str) -> tuple[Pointing, float]:
    """A classification run's maps of class ``target`` (N,) on uint8 ``images`` (N, C, H, W) by every method,
    scored against ``boxes``; and the share of images the run classifies as ``target``."""
    ex = open_classifier(run_dir)
    x = ex.preprocess.normalize(images)
    with torch.no_grad():
        agree = float((ex.model(x).argmax(1) == target).float().mean())
    opts = Options(baseline=ex.pixel_range()[0])
    layers = {m: resolve_layer(ex.model, m, None, tuple(x.shape[1:])) for m in METHODS}
    found = score_methods(lambda m: attribute(ex.model, x, m, target, layers[m], opts), boxes,
                          tuple(x.shape[2:]), log, what)
    return found, agree


def pointing_game(ctx: StudyContext, n_train: int, n_test: int, epochs: int) -> tuple[Pointing, str]:
    """Train LeNet-5 on scenes, then per method: pointing accuracy on held-out scenes; the scores and a setup
    line."""
    train = generate_scenes(n_train, SIZE, (1, 1), SCALE, seed=0)
    root = write_class_folders(train, ctx.out / "scenes")
    run = ctx.fit({"name": "lenet5_scenes", "seed": 0,
                   "data": {"dataset": "folder", "path": str(root), "val_fraction": 0.1, "test_fraction": 0.1},
                   "model": {"name": "lenet5"}, "optim": {"name": "adam", "lr": 1e-3},
                   "train": {"epochs": epochs, "batch_size": 64, "checkpoint": {"keep_last": 0}}})
    test = generate_scenes(n_test, SIZE, (1, 1), SCALE, seed=1)
    target = torch.stack([t["labels"][0] for t in test.targets])  # explain the true class
    found, acc = classifier_pointing(run.dir, test.images, target, [t["boxes"] for t in test.targets], ctx.log,
                                     "classifier")
    setup = (f"pointing game: LeNet-5 trained {epochs} epoch(s) on {n_train} one-digit {SIZE}x{SIZE} scenes "
             f"({train.source} digits, {round(28 * SCALE[0])}-{round(28 * SCALE[1])} px), test accuracy "
             f"{100 * run.test['acc']:.1f}%; {n_test} held-out scenes (accuracy {100 * acc:.1f}%), each explained "
             "for its true class; hit = the map's maximum inside the digit's box")
    return found, setup


def pointing_rows(games: dict[str, Pointing]) -> tuple[list[str], list[list[str]]]:
    """One table: a column per game ("hits % (x chance)"), a row per method, then the chance row."""
    header = ["method", *games]
    rows = [[m, *(f"{100 * g[m][0]:.1f} ({g[m][0] / g[m][1]:.1f}x)" if m in g else "-" for g in games.values())]
            for m in METHODS]
    rows.append(["chance", *(f"{100 * next(iter(g.values()))[1]:.1f}" if g else "-" for g in games.values())])
    return header, rows
