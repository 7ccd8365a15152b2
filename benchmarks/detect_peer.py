"""nnlab's assembled detectors (``Detector(backbone, neck, head)``) beside torchvision's complete models
(``SSD`` / ``RetinaNet`` / ``FasterRCNN``, nnlab/models/detection/peers.py) built from the same parts and started
from the same weights: both train on the same digit-scene batches with the same AdamW, steps interleaved (the
order alternates) so machine noise hits them alike. Reported per pair: the largest difference between their
losses over the steps (equal losses: the same training, so the same accuracy), both test mAP@0.5 after the
steps, and training / inference images per CPU-second with the ratio nnlab / torchvision (CPU seconds of this
process at one thread: on a shared machine the wall clock measures the neighbours).
    python benchmarks/detect_peer.py [--steps 30] [--batch 16] [--scenes 300] [--pairs ssd retinanet faster_rcnn]
"""
from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from nnlab import config as cfgmod
from nnlab.api import build_task
from nnlab.cli.main import _tune_malloc
from nnlab.experiments.studies.detection_runs import cycle_batches, scenes_config
from nnlab.metrics.detection import evaluate_detections
from nnlab.models.detection import DETECTORS


def same_weights(ours: nn.Module, peer: nn.Module) -> None:
    """Copy ``ours`` into ``peer`` (both register the same tensors in the same order)."""
    a, b = ours.state_dict(), peer.state_dict()
    if [v.shape for v in a.values()] != [v.shape for v in b.values()]:
        raise SystemExit("the two models do not hold the same parameters")
    peer.load_state_dict(dict(zip(b, a.values())))


def train_step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, targets: list, seed: int,
               draw: bool) -> tuple[float, float]:
    """One step, RPN / RoI sampling seeded alike for both; returns (loss, CPU seconds). torchvision's R-CNN
    transform draws one random number per training image (its choice among min sizes, one here): with ``draw`` the
    nnlab side draws them too, so both sample the same anchors and RoIs."""
    torch.manual_seed(seed)
    if draw:
        torch.empty(len(x)).uniform_()
    t0 = time.process_time()
    loss = sum(model(x, targets).values())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.detach()), time.process_time() - t0


def map50_and_speed(model: nn.Module, batches: list, classes: int) -> tuple[float, float]:
    """(test mAP@0.5, inference images per CPU-second) over ``batches``."""
    model.eval()
    preds, targets, spent, images = [], [], 0.0, 0
    with torch.inference_mode():
        for x, t in batches:
            t0 = time.process_time()
            preds += model(x)
            spent, images = spent + time.process_time() - t0, images + len(x)
            targets += t
    model.train()
    return evaluate_detections(preds, targets, classes).stats["mAP50"], images / max(spent, 1e-9)


def run_pair(name: str, task, data, classes: int, steps: int) -> dict[str, float]:
    torch.manual_seed(0)
    models = {"nnlab": DETECTORS.build(name, classes=classes), "torchvision": DETECTORS.build(f"tv_{name}",
                                                                                               classes=classes)}
    same_weights(models["nnlab"], models["torchvision"])
    opts = {k: torch.optim.AdamW(m.parameters(), lr=0.003) for k, m in models.items()}
    losses = {k: [] for k in models}
    cpu = {k: 0.0 for k in models}
    train = cycle_batches(task.loader(data, "train", train=True))
    for step in range(steps):
        x, targets = next(train)
        order = list(models) if step % 2 == 0 else list(models)[::-1]
        for k in order:
            loss, spent = train_step(models[k].train(), opts[k], x, targets, step, draw=k == "nnlab"
                                     and name == "faster_rcnn")
            losses[k].append(loss)
            cpu[k] += spent if step > 0 else 0.0  # the first step warms up
    test = list(task.loader(data, "test"))
    out: dict[str, float] = {"max_loss_diff": max(abs(a - b) for a, b in zip(losses["nnlab"], losses["torchvision"]))}
    for k, m in models.items():
        out[f"{k}_loss"] = losses[k][-1]
        out[f"{k}_train_ips"] = (steps - 1) * len(x) / max(cpu[k], 1e-9)
        out[f"{k}_map50"], out[f"{k}_eval_ips"] = map50_and_speed(m, test, classes)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--scenes", type=int, default=300, help="training scenes (a quarter as many test scenes)")
    p.add_argument("--pairs", nargs="+", default=["ssd", "retinanet", "faster_rcnn"])
    args = p.parse_args()
    _tune_malloc()
    torch.set_num_threads(1)
    n_test = max(args.scenes // 4, 8)
    cfg = cfgmod.from_dict(scenes_config("detect_peer", {"name": "ssd"}, n=args.scenes, n_test=n_test, epochs=1,
                                         batch_size=args.batch))
    task = build_task(cfg)
    data = task.load_data(False)
    task.setup(None, data.info)
    classes = len(data.info["classes"])
    print(f"{args.steps} interleaved steps of {args.batch} scenes (128 px), AdamW 0.003, one thread")
    print(f"{'pair':12s} {'max |dloss|':>11s} {'mAP50 nnlab / tv':>17s} {'train img/CPU-s':>22s} "
          f"{'eval img/CPU-s':>22s}")
    for name in args.pairs:
        r = run_pair(name, task, data, classes, args.steps)
        print(f"{name:12s} {r['max_loss_diff']:11.2e} {r['nnlab_map50']:8.3f} / {r['torchvision_map50']:.3f} "
              f"{r['nnlab_train_ips']:6.0f} / {r['torchvision_train_ips']:4.0f} = "
              f"{r['nnlab_train_ips'] / r['torchvision_train_ips']:.2f}x "
              f"{r['nnlab_eval_ips']:6.0f} / {r['torchvision_eval_ips']:4.0f} = "
              f"{r['nnlab_eval_ips'] / r['torchvision_eval_ips']:.2f}x", flush=True)


if __name__ == "__main__":
    main()
