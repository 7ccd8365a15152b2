"""nnlab predict RUN_DIR IMAGE... [--top 5] [--out DIR]"""
from __future__ import annotations

import argparse

import nnlab
from nnlab.data.boxes.rle import rle_area


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="apply a trained run to image files (classes, boxes, masks, "
                       "reconstructions) or prompt text files (a language model continues them)")
    p.add_argument("run_dir")
    p.add_argument("images", nargs="+", help="image files, or text files holding prompts")
    p.add_argument("--top", type=int, default=5, help="classification: how many classes to show per image")
    p.add_argument("--out", default=None, help="detection: folder for the images with their boxes (and instance masks) drawn; "
                   "generation: each image beside its reconstruction; segmentation: each image's colour overlay")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    options = {"out": args.out} if args.out else {}
    for r in nnlab.predict(args.run_dir, args.images, args.top, **options):
        print(r.get("image", r.get("text")))
        if "sample" in r:  # a language model: the prompt file's text, continued
            print(r["prompt"] + r["sample"])
        if "caption" in r:  # an image captioning run
            print(f"  {r['caption']}")
        for t in r.get("translations", []):  # seq2seq: each source line and its output
            print(f"  {t['source']}  ->  {t['output']}")
        for t in r.get("top", []):
            print(f"  {t['prob']:7.2%}  {t['class']}")
        for b in r.get("boxes", []):  # a Mask R-CNN's masks: their pixel counts (the RLE is in the API's result)
            mask = f"  mask {rle_area(b['mask'])} px" if "mask" in b else ""
            print(f"  {b['score']:6.3f}  {b['class']}  box {b['box']}{mask}")
        if "boxes" in r and not r["boxes"]:
            print("  no detections")
        for name, share in r.get("fractions", {}).items():
            print(f"  {share:7.2%}  of pixels  {name}")
        if "png" in r and "mse" not in r:
            print(f"  -> {r['png']}")
        if "mse" in r:
            print(f"  reconstruction mse {r['mse']:.5f}" + (f"  -> {r['png']}" if "png" in r else ""))
    return 0
