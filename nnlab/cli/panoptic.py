"""nnlab panoptic INSTANCE_RUN SEMANTIC_RUN [--split test]: a Mask R-CNN run's things and a semantic run's stuff
merged into panoptic maps (Kirillov et al.'s rules); PQ / SQ / RQ overall and per class, and a PNG of the maps."""
from __future__ import annotations

import argparse

from nnlab.cli.table import print_table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("panoptic", help="panoptic quality of an instance run + a semantic run")
    p.add_argument("instance_run", help="a detect run of mask_rcnn (the things)")
    p.add_argument("semantic_run", help="a segment run (the stuff)")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--score-threshold", type=float, default=0.5, help="instances below this score are dropped")
    p.add_argument("--overlap-threshold", type=float, default=0.5,
                   help="an instance more than this fraction covered by better ones is dropped")
    p.add_argument("--stuff-area", type=int, default=64, help="smaller stuff regions become void")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nnlab.panoptic import evaluate_panoptic

    r = evaluate_panoptic(args.instance_run, args.semantic_run, args.split, args.score_threshold,
                          args.overlap_threshold, args.stuff_area)
    print(f"{args.split}: {r['count']} images  PQ {r['pq']:.4f}  SQ {r['sq']:.4f}  RQ {r['rq']:.4f}")
    rows = [[name, *(f"{m[k]:.3f}" for k in ("pq", "sq", "rq")), m["tp"], m["fp"], m["fn"]]
            for name, m in r["per_class"].items()]
    print_table(["class", "PQ", "SQ", "RQ", "TP", "FP", "FN"], rows)
    print(f"\npanoptic maps PNG (image, truth, prediction): {r['panoptic_png']}")
    return 0
