"""Study: do attribution maps explain the model? (notes: Visualizing and Understanding — saliency, guided
backprop, occlusion, Grad-CAM; Adebayo et al. 2018, "Sanity Checks for Saliency Maps").

Train LeNet-5 on MNIST (scikit-learn digits with ResNet-20 when MNIST is absent), then for every method: the
milliseconds per explanation on this machine's threads, and the cascading-randomization check — the rank
correlation between the trained model's maps and the maps after re-initializing the top 1, 2, ... layers; the
label-randomization check (the same config on shuffled labels); the pointing game on one-digit scenes for a
classifier and a detector's box scores, and on raccoon photos (explain_pointing.py, explain_boxes.py); class-model
images read by a model from another seed.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import torch

from nnlab.experiments.common import save_figure
from nnlab.experiments.studies.report import STUDIES, StudyContext, StudyReport, Table
from nnlab.explain.attribution import METHODS, Options, attribute, resolve_layer
from nnlab.experiments.studies.explain_boxes import detector_pointing, raccoon_pointing
from nnlab.experiments.studies.explain_pointing import Pointing, pointing_game, pointing_rows
from nnlab.explain.common import open_classifier, predicted
from nnlab.explain.dream import Objective, Regularizers, class_probability, dream
from nnlab.explain.sanity import (THRESHOLD, SanityResult, cascading_randomization, label_randomization,
                                  shuffled_label_config)

SHUFFLED = ((1000, 30), (6000, 60))  # quick, full: (training images, epochs) of the shuffled-label model, which
# can only memorize: fewer images for longer than the trained model
MNIST_PLACES = [Path("../shared/datasets/mnist"), Path(__file__).resolve().parents[3].parent / "shared/datasets/mnist"]


def _config(ctx: StudyContext) -> tuple[dict[str, Any], str]:
    places = [Path(os.environ["NNLAB_MNIST"])] if os.environ.get("NNLAB_MNIST") else MNIST_PLACES
    found = [p for p in places if p.is_dir()]
    train = {"epochs": 3 if ctx.full else 1, "batch_size": 64, "checkpoint": {"keep_last": 0}}
    if found:
        data = {"dataset": "mnist", "path": str(found[0].resolve()), "train_size": None if ctx.full else 6000,
                "val_fraction": 0.05}
        return ({"name": "lenet5_mnist", "seed": 0, "data": data, "model": {"name": "lenet5"},
                 "optim": {"name": "adam", "lr": 1e-3}, "train": train}, "MNIST, LeNet-5")
    return ({"name": "resnet20_digits", "seed": 0, "data": {"dataset": "digits"}, "model": {"name": "resnet20"},
             "optim": {"name": "adam", "lr": 3e-3}, "train": train}, "scikit-learn digits (8x8), ResNet-20")


def measure(run_dir: Path, shuffled_dir: Path, n: int, repeats: int = 2, methods: tuple[str, ...] = METHODS
            ) -> tuple[dict[str, float], dict[str, SanityResult], dict[str, float], str]:
    """Per method: ms per explanation (best of ``repeats`` over a batch of ``n`` test images), the cascading
    check and the label-randomization check (against the model in ``shuffled_dir``) on the same images (maps of
    the trained model's predicted class)."""
    run, shuffled = open_classifier(run_dir), open_classifier(shuffled_dir)
    p = run.preprocess
    x, _ = run.split("test", n)
    target = predicted(run.model, x)
    opts = Options(baseline=run.pixel_range()[0])
    ms, sanity, labels = {}, {}, {}
    for method in methods:
        layer = resolve_layer(run.model, method, None, (p.channels, p.height, p.width))
        explain = lambda m, xx, t, me=method, la=layer: attribute(m, xx, me, t, la, opts)  # noqa: E731
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            explain(run.model, x, target)
            times.append(1000 * (time.perf_counter() - t0) / len(x))
        ms[method] = min(times)
        sanity[method] = cascading_randomization(run.model, explain, x, target)
        labels[method] = label_randomization(run.model, shuffled.model, explain, x, target)
    return ms, sanity, labels, str(torch.get_num_threads())


def train_shuffled(ctx: StudyContext, cfg: dict[str, Any], plan: tuple[int, int] | None = None
                   ) -> tuple[Path, float]:
    """The same config trained on its training images with their labels shuffled (Adebayo et al.'s label
    randomization), ``plan`` = (images, epochs), by default fewer images for longer so it memorizes; its run
    folder and its accuracy on the shuffled train labels."""
    images, epochs = plan or SHUFFLED[1 if ctx.full else 0]
    subset = {**cfg, "data": {**cfg["data"], "train_size": min(images, cfg["data"].get("train_size") or images)}}
    shuffled = shuffled_label_config(subset, ctx.out / "shuffled_labels", seed=0)
    run = ctx.fit({**shuffled, "train": {**cfg["train"], "epochs": epochs}})
    ex = open_classifier(run.dir)
    x, y = ex.split("train")
    memorized = float((predicted(ex.model, x) == y).float().mean())
    ctx.log(f"shuffled labels: {len(y)} images, {epochs} epochs, {memorized:.1%} of the shuffled train labels fitted")
    return run.dir, memorized


def dream_transfer(run_dir: Path, held_out: Path, steps: int = 200) -> list[list[Any]]:
    """Per class: the model's own and a held-out model's (another seed) probability of the class for the image
    synthesized with the regularizers on and off (Yosinski et al.: regularized images transfer better)."""
    a, b = open_classifier(run_dir), open_classifier(held_out)
    # "off" keeps the clipping: without it the image leaves the pixel range and any model saturates on its contrast
    settings = {"on": Regularizers(), "off": Regularizers(l2=0, blur_sigma=0, jitter=0, clip=True)}
    rows = []
    for c in range(len(a.classes)):
        row: list[Any] = [a.classes[c]]
        for reg in settings.values():
            x = dream(a, Objective(c), reg, steps)
            row += [f"{class_probability(a.model, x, c):.3f}", f"{class_probability(b.model, x, c):.3f}"]
        rows.append(row)
    mean = [f"{sum(float(r[i]) for r in rows) / len(rows):.3f}" for i in range(1, 5)]
    return rows + [["mean", *mean]]


def pointing_games(ctx: StudyContext) -> tuple[dict[str, Pointing], list[str]]:
    """The three pointing games (quick or full sizes): their scores by name and their setup lines."""
    games, setups = {}, []
    for name, (play, sizes) in {"scenes, classifier": (pointing_game, ((4000, 200, 6), (10000, 500, 10))),
                                "scenes, detector": (detector_pointing, ((800, 60, 4), (2000, 200, 8))),
                                "raccoons, classifier": (raccoon_pointing, ((8,), (20,)))}.items():
        games[name], line = play(ctx, *sizes[1 if ctx.full else 0])
        setups.append(line)
    return games, setups


@STUDIES.register("explain")
def study(ctx: StudyContext) -> StudyReport:
    cfg, setup = _config(ctx)
    run = ctx.fit(cfg)
    ctx.log(f"trained {setup}: test accuracy {run.test['acc']:.2%}")
    n = 64 if ctx.full else 32
    shuffled_dir, memorized = train_shuffled(ctx, cfg)
    shuffled_images, shuffled_epochs = SHUFFLED[1 if ctx.full else 0]
    ms, sanity, labels, threads = measure(run.dir, shuffled_dir, n)
    other = ctx.fit({**cfg, "name": cfg["name"] + "_seed1", "seed": 1})
    dreams = dream_transfer(run.dir, other.dir)
    ctx.log(f"dream, mean p(class): own model on/off {dreams[-1][1]}/{dreams[-1][3]}, held-out seed "
            f"{dreams[-1][2]}/{dreams[-1][4]}")
    games, setups = pointing_games(ctx)
    header, pointing = pointing_rows(games)
    rows = []
    for m in METHODS:
        s = sanity[m]
        rows.append([m, f"{ms[m]:.2f}", f"{s.correlations[0]:.3f}", f"{s.final:.3f}",
                     "pass" if s.passed else "FAIL (maps ignore the weights)", f"{labels[m]:.3f}",
                     "pass" if labels[m] < THRESHOLD else "FAIL (maps ignore the labels)"])
        ctx.log(f"{m:22s} {ms[m]:8.2f} ms  rho top {s.correlations[0]:.3f}  all {s.final:.3f}  "
                f"shuffled labels {labels[m]:.3f}")
    layers = sanity[METHODS[0]].layers
    return StudyReport(
        "Sanity checks and cost of attribution maps",
        "notes: saliency, guided backprop, occlusion and Grad-CAM show what a CNN looks at; Adebayo et al. 2018: "
        "a map that barely changes when the weights are randomized explains the image, not the model.",
        [f"{setup}, Adam, {cfg['train']['epochs']} epoch(s); test accuracy {100 * run.test['acc']:.2f}%",
         f"{n} test images, each explained for its predicted class; {threads} CPU thread(s)",
         f"cascading randomization: re-initialize {', '.join(layers)} one after another (top first); Spearman "
         f"rank correlation with the trained model's maps, mean over images; pass: below {THRESHOLD} after all",
         f"label randomization: the same config trained {shuffled_epochs} epochs on {shuffled_images} of its "
         f"training images with their labels shuffled, no validation split ({100 * memorized:.1f}% of them "
         f"memorized); its maps for the same classes against the trained model's; pass: rho below {THRESHOLD}",
         "occlusion: mean-pixel patch of about a sixth of the side, half-patch stride; integrated gradients: "
         "32 steps from a black image; Grad-CAM / Grad-CAM++: the last feature map with more than one position",
         "dream: 200 ascent steps on the class score with L2 1e-3, blur 0.5 px every 4 steps, jitter side // 16, "
         "clipping (on), or clipping only (off: unclipped images leave the pixel range and saturate any model); "
         "held-out: the same config trained from seed 1",
         *setups],
        [Table("Cost and sanity checks per method", ["method", "ms / explanation", "rho after top layer",
                                                     "rho after all layers", "cascading check",
                                                     "rho, shuffled-label model", "label check"], rows),
         Table("Pointing game: hits % (x chance)", header, pointing),
         Table("Class-model visualization: p(class) of the synthesized image",
               ["class", "own, reg. on", "held-out, reg. on", "own, clip only", "held-out, clip only"], dreams)],
        _verdict(sanity, labels, ms, games, dreams), [_figure(sanity, ctx)])


def _verdict(sanity: dict[str, SanityResult], labels: dict[str, float], ms: dict[str, float],
             games: dict[str, Pointing], dreams: list[list[Any]]) -> str:
    failed = [m for m in METHODS if not sanity[m].passed]
    label_failed = [m for m in METHODS if labels[m] >= THRESHOLD]
    points = "; ".join(f"{name}: best {max(g, key=lambda m: g[m][0])} {100 * max(h for h, _ in g.values()):.1f}% "
                       f"(chance {100 * next(iter(g.values()))[1]:.1f}%)" for name, g in games.items() if g)
    mean = dreams[-1]
    transfer = "transfer better" if float(mean[2]) > float(mean[4]) else "do not transfer better"
    return ((f"All {len(METHODS)} methods' maps change when the weights are randomized" if not failed else
             f"{', '.join(failed)} fail the sanity check (maps still correlate >= {THRESHOLD} with random weights)")
            + ("; every method's maps change for a model trained on shuffled labels" if not label_failed else
               f"; {', '.join(label_failed)} fail the label check (rho >= {THRESHOLD} with the shuffled-label model)")
            + f"; cheapest {min(ms, key=ms.get)} ({min(ms.values()):.2f} ms), dearest {max(ms, key=ms.get)} "
              f"({max(ms.values()):.2f} ms) per explanation. Pointing game, {points}. Class models with the "
              f"regularizers on {transfer} to a model from another "
              f"seed (mean p {mean[2]} vs {mean[4]} with clipping only).")


def _figure(sanity: dict[str, SanityResult], ctx: StudyContext) -> Path:
    from nnlab.plots import plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for method, s in sanity.items():
        ax.plot(range(1, len(s.layers) + 1), s.correlations, marker="o", label=method)
    layers = next(iter(sanity.values())).layers
    ax.set_xticks(range(1, len(layers) + 1), layers, rotation=30, fontsize=7)
    ax.axhline(THRESHOLD, color="grey", linestyle=":")
    ax.set_xlabel("randomized down to layer (cascading, top first)")
    ax.set_ylabel("Spearman rho with trained maps")
    ax.legend(fontsize=7)
    return save_figure(fig, ctx.out / "sanity.png")
