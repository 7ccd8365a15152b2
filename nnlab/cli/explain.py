"""nnlab explain: what a trained classifier looks at (CS231n, Visualizing and Understanding).

    nnlab explain RUN IMAGE... --method saliency|guided_backprop|integrated_gradients|occlusion|gradcam|gradcam++
        [--target CLASS | --box N (detection runs) | --pixel-class C [--region x1,y1,x2,y2] (segmentation runs)]
        [--layer NAME] [--out DIR]
    nnlab explain filters RUN [--layer NAME] --out f.png                       (classify, detect, segment runs)
    nnlab explain activations RUN IMAGE --out DIR          (detect runs: the backbone's; segment runs too)
    nnlab explain embed RUN [--split test] --out f.png     (detect runs: the objects' backbone features)
    nnlab explain neighbours RUN IMAGE [--k 5] [--box N] [--out f.png]   (detect runs: objects like box N)
    nnlab explain dream RUN (--class C | --layer L --unit U | --image F --box N) --out f.png
    nnlab explain max-patches RUN --layer L --unit U [--k 16] --out f.png
"""
from __future__ import annotations

import argparse
from typing import Callable

from nnlab.errors import UserError

ALL_TASKS = ("classify", "detect", "segment")  # a model's weights and feature maps exist for every image task
OBJECT_TASKS = ("classify", "detect")  # embeddings, neighbours, class models: images of a class, or objects
TOOLS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}


def tool(name: str) -> Callable:
    """Register a ``nnlab explain NAME ...`` form: ``adder(parser)`` declares its arguments, the function runs it."""
    def wrap(adder: Callable[[argparse.ArgumentParser], None]) -> Callable:
        def register(fn: Callable[[argparse.Namespace], int]) -> Callable:
            TOOLS[name] = (adder, fn)
            return fn
        return register
    return wrap


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="what a classifier looks at: attribution maps, filters, activations, "
                                       "embeddings, neighbours, class models",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("words", nargs=argparse.REMAINDER, help="RUN IMAGE... --method M, or TOOL ARGS (see above)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    words = list(args.words)
    if words and words[0] in TOOLS:
        adder, fn = TOOLS[words[0]]
        p = argparse.ArgumentParser(prog=f"nnlab explain {words[0]}")
        adder(p)
        return fn(_parse(p, words[1:]))
    return _attribution(_parse(_attribution_parser(), words))


def _parse(p: argparse.ArgumentParser, words: list[str]) -> argparse.Namespace:
    try:
        return p.parse_intermixed_args(words)  # images may follow the options
    except SystemExit as e:  # argparse printed its usage line; exit as the CLI does for bad input
        if e.code:
            raise UserError(f"bad arguments for {p.prog} (see the usage above)") from None
        raise


def _attribution_parser() -> argparse.ArgumentParser:
    from nnlab.explain.attribution import METHODS

    p = argparse.ArgumentParser(prog="nnlab explain", description="attribution maps overlaid on images (PNG)")
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--method", required=True, choices=METHODS)
    p.add_argument("--target", type=int, help="class index to explain (default: each image's predicted class)")
    p.add_argument("--layer", help="gradcam / gradcam++: the layer (default: the last feature map)")
    p.add_argument("--box", type=int, default=0, help="detection runs: which detected box (0 = highest score)")
    p.add_argument("--pixel-class", type=int, help="segmentation runs: the class whose pixels' logits to explain")
    p.add_argument("--region", help="segmentation runs: x1,y1,x2,y2 (input pixels) instead of the class's "
                                    "predicted pixels")
    p.add_argument("--reduce", choices=("sum", "mean"), default="sum",
                   help="segmentation runs: sum or mean of the logits over the pixels (default: sum)")
    p.add_argument("--out", default="explain", help="output folder (default: explain)")
    p.add_argument("--steps", type=int, default=32, help="integrated gradients: steps from the black baseline")
    p.add_argument("--window", type=int, help="occlusion: patch side in pixels")
    p.add_argument("--stride", type=int, help="occlusion: patch step in pixels")
    return p


def _attribution(args: argparse.Namespace) -> int:
    from nnlab.explain.attribution import Options
    from nnlab.explain.maps import Request, explain_images
    from nnlab.explain.segmentation import parse_region

    req = Request(args.method, args.target, args.layer, Options(args.steps, args.window, args.stride), args.box,
                  args.pixel_class, parse_region(args.region), args.reduce)
    results = explain_images(args.run_dir, args.images, req, args.out)
    if results and results[0]["note"]:
        print(f"note: {results[0]['note']}")
    for r in results:
        what = f" box {r['box']}" if "box" in r else f" over {r['pixels']} px" if "pixels" in r else ""
        print(f"{r['image']}: {r['class']}{what} ({'score' if what else 'p'}={r['prob']:.3f}) -> {r['png']}")
    return 0


def _run_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN")


@tool("filters")
def _filters_args(p: argparse.ArgumentParser) -> None:
    _run_arg(p)
    p.add_argument("--layer", help="a Conv2d, or a Linear that reads the pixels (default: the first one)")
    p.add_argument("--out", default="filters.png")


@_filters_args
def _filters(args: argparse.Namespace) -> int:
    from nnlab.explain.common import open_classifier
    from nnlab.explain.features import filters_png

    print(filters_png(open_classifier(args.run_dir, "explain filters", ALL_TASKS), args.out, args.layer))
    return 0


@tool("activations")
def _activations_args(p: argparse.ArgumentParser) -> None:
    _run_arg(p)
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("--out", default="activations")


@_activations_args
def _activations(args: argparse.Namespace) -> int:
    from nnlab.explain.common import open_classifier
    from nnlab.explain.features import activations_pngs

    for path in activations_pngs(open_classifier(args.run_dir, "explain activations", ALL_TASKS), args.image,
                                 args.out):
        print(path)
    return 0


@tool("embed")
def _embed_args(p: argparse.ArgumentParser) -> None:
    _run_arg(p)
    p.add_argument("--split", default="test")
    p.add_argument("--limit", type=int, default=1000, help="images embedded (default 1000)")
    p.add_argument("--out", default="embed.png")


@_embed_args
def _embed(args: argparse.Namespace) -> int:
    from nnlab.explain.common import open_classifier
    from nnlab.explain.features import embed_png

    print(embed_png(open_classifier(args.run_dir, "explain embed", OBJECT_TASKS), args.out, args.split, args.limit))
    return 0


@tool("neighbours")
def _neighbours_args(p: argparse.ArgumentParser) -> None:
    _run_arg(p)
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--split", default="train", help="where to look for neighbours (default: train)")
    p.add_argument("--box", type=int, help="detection runs: the detected box whose object to match (default 0)")
    p.add_argument("--out", help="also draw them into this PNG")


@_neighbours_args
def _neighbours(args: argparse.Namespace) -> int:
    from nnlab.explain.common import open_classifier
    from nnlab.explain.features import neighbours, neighbours_png

    run = open_classifier(args.run_dir, "explain neighbours", OBJECT_TASKS)
    if run.task == "detect":
        from nnlab.explain.detector_views import box_neighbours

        found, png = box_neighbours(run, args.image, args.box or 0, args.k, args.split, args.out)
    elif args.box is not None:
        raise UserError(f"--box is for detection runs; {run.name} is a {run.task!r} run")
    else:
        found = neighbours(run, args.image, args.k, args.split)
        png = neighbours_png(run, args.image, found, args.out, args.split) if args.out else None
    for space, items in found.items():
        print(f"{space} space: " + ", ".join(f"#{i} {run.classes[c]} ({d:.2f})" for i, c, d in items))
    if png:
        print(png)
    return 0


@tool("dream")
def _dream_args(p: argparse.ArgumentParser) -> None:
    _run_arg(p)
    p.add_argument("--class", dest="cls", type=int, help="class index whose score to maximize (detection runs: "
                                                         "the class's best candidate score)")
    p.add_argument("--box", type=int, help="detection runs: maximize this detected box's score, from --image")
    p.add_argument("--image", help="detection runs: the image whose --box to maximize (the starting point)")
    p.add_argument("--layer", help="maximize one unit of this layer instead (with --unit)")
    p.add_argument("--unit", type=int, help="channel (conv) or neuron (linear) of --layer")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--l2", type=float, default=1e-3, help="L2 decay (0: off)")
    p.add_argument("--blur", type=float, default=0.5, help="Gaussian blur sigma in pixels (0: off)")
    p.add_argument("--jitter", type=int, help="random shift in pixels per step (0: off; default: side // 16)")
    p.add_argument("--no-clip", action="store_true", help="let pixels leave the valid range")
    p.add_argument("--out", default="dream.png")


@_dream_args
def _dream(args: argparse.Namespace) -> int:
    from nnlab.explain.common import open_classifier
    from nnlab.explain.dream import Objective, Regularizers, dream, dream_png

    if args.steps < 1:
        raise UserError("--steps must be at least 1")
    run = open_classifier(args.run_dir, "explain dream", OBJECT_TASKS)
    obj = Objective(args.cls, args.layer, args.unit)
    reg = Regularizers(args.l2, args.blur, 4, args.jitter, not args.no_clip)
    if run.task == "detect":
        from nnlab.explain.detector_views import detection_dream

        x, view, obj, what = detection_dream(run, obj, reg, args.steps, args.lr, args.seed, args.image, args.box)
        print(dream_png(view, x, obj, args.out, what))
        return 0
    if args.box is not None or args.image is not None:
        raise UserError(f"--box and --image are for detection runs; {run.name} is a {run.task!r} run")
    x = dream(run, obj, reg, args.steps, args.lr, args.seed)
    print(dream_png(run, x, obj, args.out))
    return 0


@tool("max-patches")
def _patches_args(p: argparse.ArgumentParser) -> None:
    _run_arg(p)
    p.add_argument("--layer", required=True)
    p.add_argument("--unit", type=int, required=True, help="channel (conv) or neuron (linear)")
    p.add_argument("--k", type=int, default=16, help="patches shown (default 16)")
    p.add_argument("--split", default="train")
    p.add_argument("--limit", type=int, default=5000, help="images searched (default 5000)")
    p.add_argument("--out", default="max_patches.png")


@_patches_args
def _patches(args: argparse.Namespace) -> int:
    from nnlab.explain.common import open_classifier
    from nnlab.explain.patches import max_patches, max_patches_png

    run = open_classifier(args.run_dir, "explain max-patches")
    found = max_patches(run, args.layer, args.unit, args.k, args.split, args.limit)
    print(", ".join(f"#{i} {a:.2f} box {b}" for i, a, b in found))
    print(max_patches_png(run, found, args.layer, args.unit, args.out, args.split))
    return 0
