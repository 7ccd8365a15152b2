"""Study: PixelCNN vs PixelRNN (notes: both maximize the likelihood with the chain rule, generating pixels one by
one from the top-left corner; PixelCNN's masked convolutions make it faster to train than PixelRNN).

Both models train on the same binarized MNIST subset for the same epochs (Adam 1e-3, batch 64): PixelCNN as in
``configs/generate/mnist_pixelcnn.yaml`` (type-A 7x7, 4 residual type-B blocks, 32 channels), PixelRNN as in
``mnist_pixelrnn.yaml`` (type-A 7x7, 2 residual Row LSTM layers, 16-wide state). Measured per model: the test NLL
(nats per image, bits per dimension), training images per CPU-second (``detection_runs.throughput``: the run's
own loader, SGD at lr 0), and sampling images per CPU-second (``nnlab.sampling.sample``: one forward pass per
pixel). CPU seconds, not wall time: on a shared machine the wall clock measures the neighbours.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from nnlab.api import run_data
from nnlab.experiments.common import save_figure
from nnlab.experiments.studies.detection_runs import throughput
from nnlab.experiments.studies.report import STUDIES, StudyContext, StudyReport, Table
from nnlab.experiments.studies.transfer import find_mnist
from nnlab.inference import load_run
from nnlab.sampling import sample

MODELS: dict[str, dict[str, Any]] = {
    "pixelcnn": {"name": "pixelcnn", "channels": 32, "blocks": 4, "levels": 2},
    "pixelrnn": {"name": "pixelrnn", "channels": 32, "layers": 2, "levels": 2},
}
QUICK, FULL = {"train_size": 10_000, "epochs": 1, "samples": 4}, {"train_size": None, "epochs": 2, "samples": 16}


def mnist_data(train_size: int | None) -> dict[str, Any]:
    """The data section: MNIST from the shared folder (or $NNLAB_MNIST), ``train_size`` training images."""
    return {"dataset": "mnist", "path": str(find_mnist("pixelcnn-vs-pixelrnn")), "train_size": train_size}


def pixel_config(name: str, model: dict[str, Any], data: dict[str, Any], epochs: int) -> dict[str, Any]:
    """One chain-rule model on binarized MNIST (> 0.5 -> 1), no per-epoch sample grids, best weights only."""
    return {"name": name, "task": "generate", "seed": 0, "data": {**data, "val_fraction": 0.02, "split_seed": 0},
            "model": model, "generate": {"binarize": 0.5, "samples": 4, "epoch_samples": False},
            "optim": {"name": "adam", "lr": 1e-3},
            "train": {"epochs": epochs, "batch_size": 64, "checkpoint": {"keep_last": 0}}}


def measure(ctx: StudyContext, config: dict[str, Any], samples: int) -> dict[str, float]:
    """Train ``config``; its test NLL, parameters, training and sampling images per CPU-second."""
    run = ctx.fit(config)
    loaded = load_run(run.dir)
    train_ips = throughput(loaded, run_data(run.dir, run.config), train=True)
    cpu0 = time.process_time()
    sample(run.dir, samples, seed=0)
    sample_ips = samples / max(time.process_time() - cpu0, 1e-9)
    params = sum(p.numel() for p in loaded.model.parameters())
    return {"nll": run.test["loss"], "bpd": run.test["bpd"], "params": params, "train_ips": train_ips,
            "sample_ips": sample_ips}


@STUDIES.register("pixelcnn-vs-pixelrnn")
def study(ctx: StudyContext) -> StudyReport:
    plan = FULL if ctx.full else QUICK
    size = ctx.train_size or plan["train_size"]
    data = mnist_data(size)
    results = {}
    for name, model in MODELS.items():
        results[name] = measure(ctx, pixel_config(name, model, data, plan["epochs"]), plan["samples"])
        r = results[name]
        ctx.log(f"{name}: test {r['nll']:.1f} nats, train {r['train_ips']:.1f} img/s, "
                f"sampling {r['sample_ips']:.2f} img/s")
    rows = [[name, f"{r['params']:,}", f"{r['nll']:.2f}", f"{r['bpd']:.4f}", f"{r['train_ips']:.1f}",
             f"{r['sample_ips']:.2f}", f"{r['train_ips'] / r['sample_ips']:.0f}x"] for name, r in results.items()]
    return StudyReport(
        "PixelCNN vs PixelRNN: likelihood, training speed, sampling speed (binarized MNIST)",
        "notes: PixelRNN / PixelCNN maximize the likelihood with the chain rule, generating pixels one by one "
        "from the top-left corner; PixelCNN (masked convolutions) is faster to train than PixelRNN.",
        [f"MNIST binarized at 0.5, {'all' if size is None else f'{size:,}'} training images (2% of the training "
         f"split held out for validation), {plan['epochs']} epoch(s), Adam 1e-3, batch 64, seed 0; test NLL on "
         "all 10,000 test images (best validation weights)",
         "pixelcnn: 7x7 type-A masked conv, 4 residual type-B 3x3 blocks, 32 channels; pixelrnn: 7x7 type-A "
         "masked conv, 2 residual Row LSTM layers (16-wide state), the same Bernoulli output and loss",
         f"speed in images per CPU-second of this process: training (forward, backward, optimizer step, batch "
         f"64), sampling ({plan['samples']} images at once, 784 passes, each on the window that decides the pixel)"],
        [Table("Test NLL and speed", ["model", "parameters", "test NLL (nats)", "bits/dim", "train img/s",
                                      "sampling img/s", "train / sampling"], rows)],
        _verdict(results), [_figure(results, ctx.out / "pixelcnn_vs_pixelrnn.png")])


def _verdict(r: dict[str, dict[str, float]]) -> str:
    cnn, rnn = r["pixelcnn"], r["pixelrnn"]
    ratio = cnn["train_ips"] / rnn["train_ips"]
    faster = "supported" if ratio > 1 else "not supported"
    return (f"PixelCNN trains {ratio:.1f}x as many images per CPU-second as PixelRNN ({cnn['train_ips']:.1f} vs "
            f"{rnn['train_ips']:.1f}): 'faster to train' is {faster} here (one run each; PixelRNN's rows are "
            f"sequential, PixelCNN evaluates every pixel in one pass). Test NLL {cnn['nll']:.1f} vs "
            f"{rnn['nll']:.1f} nats after the same epochs. Both sample pixel by pixel: PixelCNN samples "
            f"{cnn['train_ips'] / cnn['sample_ips']:.0f}x slower per image than it trains, PixelRNN "
            f"{rnn['train_ips'] / rnn['sample_ips']:.0f}x.")


def _figure(r: dict[str, dict[str, float]], path: Path) -> Path:
    from nnlab.plots import plt

    names = list(r)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
    panels = [("nll", "test NLL (nats / image)"), ("train_ips", "training images / CPU-s"),
              ("sample_ips", "sampling images / CPU-s")]
    for ax, (key, title) in zip(axes, panels):
        ax.bar(names, [r[n][key] for n in names], color=["tab:blue", "tab:orange"][:len(names)])
        ax.set_title(title)
    return save_figure(fig, path)
