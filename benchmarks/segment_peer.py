"""nnlab's U-Net beside segmentation-models-pytorch's Unet (``encoder_weights=None``: both from scratch) on the
same data, loader, loss, optimizer (Adam at the config's lr) and epochs, in one plain fp32 loop (the config's
precision and memory format are not applied): test mIoU (nnlab's evaluator) and training images/s.

Both train in this process, epochs interleaved, so machine noise hits them alike. The data, splits, flips and
loss come from the ``segment`` task of the given config (default: Penn-Fudan person / background at 128x128).
segmentation-models-pytorch comes from the optional ``bench`` extra (``pip install -e '.[bench]'``); without it
its row is skipped with a message.
    python benchmarks/segment_peer.py [--config configs/segment/pennfudan_unet.yaml] [--epochs 8]
        [--encoder resnet18] [--data.path=/path/to/pennfudanped ...]
"""
from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from nnlab import config as cfgmod
from nnlab.cli.main import _tune_malloc
from nnlab.tasks.segment import Segment


def peer_unet(encoder: str, depth: int, classes: int, in_chans: int) -> nn.Module | None:
    """smp's Unet with ``depth`` encoder stages and a decoder halving 8 * 2^depth channels per stage."""
    try:
        import segmentation_models_pytorch as smp
    except ImportError:
        print("segmentation-models-pytorch is not installed (pip install -e '.[bench]'): peer skipped")
        return None
    decoder = tuple(8 * 2 ** i for i in range(depth, 0, -1))  # e.g. (128, 64, 32, 16)
    return smp.Unet(encoder, encoder_weights=None, encoder_depth=depth, decoder_channels=decoder,
                    in_channels=in_chans, classes=classes)


def train_epoch(task: Segment, model: nn.Module, loader, opt: torch.optim.Optimizer) -> float:
    """One epoch through the task's loss; returns training images/s."""
    model.train()
    n, t0 = 0, time.perf_counter()
    for x, y in loader:
        loss = task.loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        n += len(x)
    return n / (time.perf_counter() - t0)


def test_miou(task: Segment, model: nn.Module, data) -> dict[str, float]:
    model.eval()
    ev = task.evaluator()
    with torch.inference_mode():
        for batch in task.loader(data, "test"):
            ev.update(model, batch)
    return ev.compute()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="configs/segment/pennfudan_unet.yaml")
    p.add_argument("--epochs", type=int, default=None, help="default: the config's train.epochs")
    p.add_argument("--encoder", default="resnet18", help="smp encoder name")
    args, overrides = p.parse_known_args()
    _tune_malloc()
    cfg = cfgmod.load(args.config, overrides)
    task = Segment(cfg)
    data = task.load_data(progress=False)
    k, c = len(data.info["classes"]), data.info["preprocess"]["channels"]
    depth = int(cfg.model.args.get("depth", 4))
    models = {"nnlab unet": task.build_model(data.info), f"smp Unet({args.encoder})": peer_unet(args.encoder, depth, k, c)}
    models = {name: m for name, m in models.items() if m is not None}
    task.setup(models["nnlab unet"], data.info)
    rows: dict[str, list[float]] = {name: [] for name in models}
    opts = {name: torch.optim.Adam(m.parameters(), lr=cfg.optim.lr or 1e-3) for name, m in models.items()}
    for epoch in range(args.epochs or cfg.train.epochs):
        for name, model in models.items():
            torch.manual_seed(cfg.seed + epoch)  # the same flips for both
            rows[name].append(train_epoch(task, model, task.loader(data, "train", train=True), opts[name]))
    print(f"{'model':24s} {'params':>8s} {'img/s':>7s} {'test mIoU':>9s} {'pixel acc':>9s}")
    for name, model in models.items():
        m = test_miou(task, model, data)
        params = sum(q.numel() for q in model.parameters()) / 1e6
        print(f"{name:24s} {params:7.2f}M {max(rows[name]):7.1f} {m['miou']:9.3f} {m['pixel_accuracy']:9.3f}")


if __name__ == "__main__":
    main()
