"""nnlab sample RUN_DIR [--n 64] [--out grid.png] [--seed 0] [--frechet CLASSIFIER_RUN]: new images from a
VAE, GAN or PixelCNN run as a PNG grid; with ``--frechet``, the Fréchet distance of the samples to the real
test images on the classifier's penultimate features, beside the real-vs-real floor."""
from __future__ import annotations

import argparse

import nnlab


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="draw images from a generative run (vae, dcgan, pixelcnn)")
    p.add_argument("run_dir")
    p.add_argument("--n", type=int, default=64, help="how many images (default 64)")
    p.add_argument("--out", default="samples.png", help="PNG grid to write (default samples.png)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights", default="best", choices=["best", "last"])
    p.add_argument("--frechet", metavar="CLASSIFIER_RUN", default=None,
                   help="also measure n samples (up to half the test split) against the real test images")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.frechet:
        nnlab.load_run(args.frechet)  # a missing or unreadable classifier run fails before any sampling
    r = nnlab.sample(args.run_dir, args.n, args.out, args.seed, args.weights)
    print(f"{args.n} samples in {r['seconds']:.2f} s ({args.n / r['seconds']:.1f} images/s) -> {r['png']}")
    if args.frechet:
        m = nnlab.frechet(args.run_dir, args.frechet, args.n, args.seed, args.weights)
        print(f"Fréchet distance ({m['n']} samples vs {m['reference']} real test images): {m['fd']:.3f}"
              f"   floor (real vs real, same sizes): {m['fd_floor']:.3f}")
        for who in ("samples", "real"):
            print(f"{who:>8}: classifier confidence {m[f'{who}_confidence']:.3f}  class entropy "
                  f"{m[f'{who}_class_entropy']:.3f} / {m[f'{who}_class_entropy_max']:.3f} nats  "
                  f"classes seen {m[f'{who}_classes_seen']}")
    return 0
