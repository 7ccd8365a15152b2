"""Detections per second at batch 1: eager PyTorch against ONNX Runtime, for every exportable learned detector.

Both sides run the complete pipeline a deployed detector runs: the network (eager ``Detector.dense`` or the
exported graph in ONNX Runtime), then the same post-processing function (candidates, score threshold, per-class
NMS; two-stage detectors have it inside their graph; mask_rcnn's graph also pastes each detection's mask). Each
detector is built at the scenes size (128 px, 3 channels, the default tiny backbone), with random weights unless
``--run`` gives a trained detection run; speed barely depends on training, except that the post-processing of
an untrained net sees fewer boxes above the threshold. Rounds alternate eager and ORT so machine noise hits both alike. One thread each.

    PYTHONPATH=. python benchmarks/detect_export.py [--models yolo ssd ...] [--images 50] [--rounds 3] [--run DIR]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

import nnlab.models.detection  # noqa: F401  registers the detectors
from nnlab.data import Preprocess
from nnlab.deploy.detection import DetectionDecoder, detection_diff, detection_graph
from nnlab.deploy.export import export_model, ort_session, read_metadata, sample_inputs
from nnlab.models.registry import DETECTORS

MODELS = {"yolo": {}, "ssd": {}, "retinanet": {}, "detectnet": {}, "faster_rcnn": {}, "mask_rcnn": {}}
PRE = Preprocess(3, 128, 128, "squash", [0.5] * 3, [0.25] * 3)


def build(name: str, run: str | None) -> tuple[torch.nn.Module, Preprocess, str]:
    if run is not None:
        from nnlab.inference import load_run

        loaded = load_run(run)
        return loaded.model, loaded.preprocess, loaded.config.model.name
    torch.manual_seed(0)
    return DETECTORS.build(name, classes=10, in_chans=3, input_size=(128, 128), **MODELS[name]).eval(), PRE, name


def measure(name: str, run: str | None, images: int, rounds: int) -> dict[str, float]:
    model, pre, name = build(name, run)
    graph = detection_graph(model, name, {})
    with tempfile.TemporaryDirectory() as tmp:
        path = export_model(graph.module, pre, [str(i) for i in range(model.num_classes)], "onnx",
                            Path(tmp) / "m.onnx", not graph.batch_one, samples=2, info=graph.meta,
                            outputs=graph.outputs, compare=graph.compare).path
        session = ort_session(str(path), threads=1)
        decode = DetectionDecoder(read_metadata(path))
    x = sample_inputs(pre, images, seed=3)
    size = (pre.height, pre.width)

    def eager(i: int) -> dict[str, torch.Tensor]:
        with torch.inference_mode():
            return model(x[i: i + 1])[0]

    def onnx(i: int) -> dict[str, torch.Tensor]:
        return decode(session.run(list(decode.outputs), {"input": x[i: i + 1].numpy()}), size)[0]

    worst = max(detection_diff(onnx(i), eager(i)) for i in range(min(images, 8)))  # parity, and warm-up
    rates: dict[str, list[float]] = {"eager": [], "onnx": []}
    for _ in range(rounds):
        for label, fn in (("eager", eager), ("onnx", onnx)):
            t0 = time.perf_counter()
            found = sum(len(fn(i)["scores"]) for i in range(images))
            rates[label].append(images / (time.perf_counter() - t0))
    e, o = statistics.median(rates["eager"]), statistics.median(rates["onnx"])
    return {"eager": e, "onnx": o, "ratio": o / e, "boxes": found / images, "max_diff": worst}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--images", type=int, default=50)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--run", help="a trained detection run to measure instead (its own model and input size)")
    args = p.parse_args()
    torch.set_num_threads(1)
    print(f"batch 1, 1 thread, {args.images} images x {args.rounds} rounds (median); load {os.getloadavg()[0]:.1f}")
    print(f"{'detector':12s} {'eager img/s':>11s} {'ORT img/s':>10s} {'ORT/eager':>9s} {'boxes/img':>9s} "
          f"{'max |diff|':>10s}")
    for name in [None] if args.run else args.models:
        r = measure(name or "", args.run, args.images, args.rounds)
        print(f"{name or args.run:12s} {r['eager']:11.1f} {r['onnx']:10.1f} {r['ratio']:9.2f} {r['boxes']:9.1f} "
              f"{r['max_diff']:10.2g}")


if __name__ == "__main__":
    main()
