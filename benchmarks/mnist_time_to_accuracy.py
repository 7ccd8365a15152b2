"""Wall-clock training seconds until configs/classify/mnist_lenet.yaml reaches 99.0% MNIST test accuracy,
and kNN (k=3, L2) test accuracy on MNIST.

Trains once with a snapshot per epoch, then tests each snapshot: the time to accuracy is the summed
epoch time (training + validation, as logged in metrics.csv) up to the first epoch at or above the target.
    python benchmarks/mnist_time_to_accuracy.py [--mnist ../shared/datasets/mnist] [--target 0.99]
"""
from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import torch

import nnlab
from nnlab.api import RunDir, run_data
from nnlab.cli.main import _tune_malloc
from nnlab.engine import checkpoint
from nnlab.engine.trainer import evaluate

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--mnist", default=str(ROOT.parent / "shared" / "datasets" / "mnist"))
    p.add_argument("--config", default=str(ROOT / "configs" / "classify" / "mnist_lenet.yaml"))
    p.add_argument("--target", type=float, default=0.99)
    p.add_argument("--skip-knn", action="store_true")
    args = p.parse_args()
    _tune_malloc()
    with tempfile.TemporaryDirectory() as tmp:
        over = [f"--data.path={args.mnist}", "--train.checkpoint.keep_last=100"]
        run = nnlab.fit(args.config, over, runs_root=tmp, progress=False)
        loaded = nnlab.load_run(run.dir)
        model, task = loaded.model, loaded.task
        test = task.loader(run_data(run.dir, run.config), "test")
        rows = list(csv.DictReader((run.dir / "metrics.csv").open()))
        elapsed, reached = 0.0, None
        print(f"{'epoch':>5} {'seconds':>8} {'test_acc':>9}")
        for row in rows:
            elapsed += float(row["time"])
            epoch = int(row["epoch"])
            model.load_state_dict(checkpoint.load(RunDir(run.dir).snapshot(epoch))["model"])
            acc = evaluate(model, test, task.evaluator(), torch.device("cpu"))["acc"]
            print(f"{epoch:>5} {elapsed:8.1f} {acc:9.4f}")
            if reached is None and acc >= args.target:
                reached = elapsed
        print(f"time to {args.target:.1%} test accuracy: " + (f"{reached:.1f} s" if reached else "not reached"))
        if not args.skip_knn:
            t0 = time.perf_counter()
            knn = nnlab.fit(ROOT / "configs" / "classify" / "mnist_knn.yaml", [f"--data.path={args.mnist}"],
                            runs_root=tmp, progress=False)
            print(f"kNN (k=3, L2) MNIST test accuracy: {knn.test['acc']:.4f} "
                  f"({time.perf_counter() - t0:.1f} s including loading)")


if __name__ == "__main__":
    main()
