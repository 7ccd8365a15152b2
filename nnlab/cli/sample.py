"""nnlab sample RUN_DIR: new samples from a trained run, whatever its task generates.

Images from a VAE, GAN or PixelCNN run (``--n 64 --out grid.png``; ``--frechet CLASSIFIER_RUN`` adds the Fréchet
distance of the samples to the real test images on the classifier's penultimate features, beside the
real-vs-real floor); text from a character language model (``--prompt "ROMEO:" --length 500 --temperature 0.8``)."""
from __future__ import annotations

import argparse

import nnlab


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="draw images (vae, dcgan, pixelcnn, pixelrnn) or text (a language model) "
                       "from a run")
    p.add_argument("run_dir")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights", default="best", choices=["best", "last"])
    images = p.add_argument_group("images (task: generate)")
    images.add_argument("--n", type=int, default=64, help="how many images (default 64)")
    images.add_argument("--out", default="samples.png", help="PNG grid to write (default samples.png)")
    images.add_argument("--frechet", metavar="CLASSIFIER_RUN", default=None,
                        help="also measure n samples (up to half the test split) against the real test images")
    text = p.add_argument_group("text (task: sequence)")
    text.add_argument("--prompt", default="\n", help="text the sample starts from (default: a newline)")
    text.add_argument("--length", type=int, default=None, help="characters to generate (default: the run's "
                      "sequence.sample_length)")
    text.add_argument("--temperature", type=float, default=None, help="0: always the most likely character; "
                      "higher: more varied (default: the run's sequence.temperature)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if nnlab.read_meta(args.run_dir).get("task") == "sequence":
        r = nnlab.sample(args.run_dir, seed=args.seed, weights=args.weights, prompt=args.prompt,
                         length=args.length, temperature=args.temperature)
        print(r["prompt"] + r["sample"])
        return 0
    if args.frechet:
        nnlab.load_run(args.frechet)  # a missing or unreadable classifier run fails before any sampling
    r = nnlab.sample(args.run_dir, args.n, args.out, args.seed, args.weights)
    print(f"{args.n} samples in {r['seconds']:.2f} s ({args.n / r['seconds']:.1f} images/s) -> {r['png']}")
    if args.frechet:
        m = nnlab.frechet(args.run_dir, args.frechet, args.n, args.seed, args.weights, images=r["images"])
        print(f"Fréchet distance ({m['n']} samples vs {m['reference']} real test images): {m['fd']:.3f}"
              f"   floor (real vs real, same sizes): {m['fd_floor']:.3f}")
        for who in ("samples", "real"):
            print(f"{who:>8}: classifier confidence {m[f'{who}_confidence']:.3f}  class entropy "
                  f"{m[f'{who}_class_entropy']:.3f} / {m[f'{who}_class_entropy_max']:.3f} nats  "
                  f"classes seen {m[f'{who}_classes_seen']}")
    return 0
