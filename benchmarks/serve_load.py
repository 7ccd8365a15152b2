"""Load test of ``nnlab deploy``'s POST /predict: requests/s and p50 / p99 latency.

LeNet-5 (1x28x28) and ResNet-18 (3x224x224; nnlab's registered ``resnet18`` when present, otherwise
torchvision's ``resnet18(weights=None, num_classes=10)`` - random weights, which do not change the cost)
are served over loopback by a separate server process (uvicorn, one worker), once per backend
(ONNX Runtime, eager PyTorch) and batching mode (dynamic micro-batching max 32 images / 5 ms, or one model
call per request). 1, 8 and 32 concurrent clients (asyncio + httpx, each sending one PNG per request,
back to back) send a bounded number of requests after a short warm-up. First, bare model calls at batch 1
and 32 (no HTTP) show how much batching itself can gain on this machine.

    PYTHONPATH=. python benchmarks/serve_load.py [--requests 256] [--models lenet5 resnet18] [--clients 1 8 32]
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import torch
from PIL import Image

from nnlab.api import build_model
from nnlab.data import Preprocess
from nnlab.deploy.export import export_model
from nnlab.deploy.predictor import Predictor
from nnlab.models.registry import MODELS

CLASSES = [str(i) for i in range(10)]


def build(name: str) -> tuple[torch.nn.Module, Preprocess]:
    """The benchmarked network (seeded random weights) and the preprocessing its server applies."""
    torch.manual_seed(0)
    if name == "lenet5":
        return build_model("lenet5", 10, 1, (28, 28)), Preprocess(1, 28, 28, "squash", [0.1307], [0.3081])
    pre = Preprocess(3, 224, 224, "squash", [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    if name in MODELS.names():
        return build_model(name, 10, 3, (224, 224)), pre
    import torchvision

    return torchvision.models.resnet18(weights=None, num_classes=10), pre


def serve(name: str, backend: str, port: int, batching: bool) -> None:
    """Server process: build the model, wrap it in a predictor for the backend, serve until killed."""
    import uvicorn

    from nnlab.deploy.server import create_app

    model, pre = build(name)
    with tempfile.TemporaryDirectory() as tmp:
        if backend == "onnx":
            predictor = Predictor.open(export_model(model, pre, CLASSES, "onnx", Path(tmp) / "m.onnx", True).path)
        else:
            predictor = Predictor.from_model(model, pre, CLASSES, name)
        uvicorn.run(create_app(predictor, batching=batching, max_batch=32, max_wait_ms=5), host="127.0.0.1",
                    port=port, log_level="warning")


def png(pre: Preprocess) -> bytes:
    """One random image of the model's input size, PNG-encoded (what a client uploads)."""
    arr = np.random.default_rng(0).integers(0, 256, (pre.height, pre.width, pre.channels), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr.squeeze()).save(buf, format="PNG")
    return buf.getvalue()


async def load(url: str, image: bytes, clients: int, requests: int) -> dict[str, float]:
    """``clients`` tasks send ``requests`` uploads in all, back to back; latency per request."""
    latencies: list[float] = []
    remaining = requests

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            t0 = time.perf_counter()
            reply = await http.post(url, files={"file": ("x.png", image, "image/png")})
            reply.raise_for_status()
            latencies.append(time.perf_counter() - t0)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=300) as http:
        for _ in range(min(clients, 4)):  # warm-up: connections, first-call allocations
            (await http.post(url, files={"file": ("x.png", image, "image/png")})).raise_for_status()
        t0 = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        wall = time.perf_counter() - t0
    ms = sorted(x * 1000 for x in latencies)
    return {"rps": len(ms) / wall, "p50_ms": statistics.median(ms), "p99_ms": ms[min(len(ms) - 1, int(0.99 * len(ms)))]}


def start_server(name: str, backend: str, batching: bool) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, __file__, "--serve", name, backend, str(port)] + ([] if batching else ["--no-batching"])
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        try:
            httpx.get(base + "/health", timeout=2).raise_for_status()
            return proc, base
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"server for {name}/{backend} did not start")


def model_only(name: str, backend: str, batch: int, images: int = 32) -> float:
    """Images/s of bare model calls at one batch size (no HTTP, no decoding): what batching can gain."""
    model, pre = build(name)
    with tempfile.TemporaryDirectory() as tmp:
        predictor = (Predictor.open(export_model(model, pre, CLASSES, "onnx", Path(tmp) / "m.onnx", True).path)
                     if backend == "onnx" else Predictor.from_model(model, pre, CLASSES))
        x = np.random.default_rng(0).standard_normal((images, pre.channels, pre.height, pre.width), np.float32)
        predictor.probabilities(x[:batch])  # warm-up
        t0 = time.perf_counter()
        for i in range(0, images, batch):
            predictor.probabilities(x[i: i + batch])
        return images / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--serve", nargs=3, metavar=("MODEL", "BACKEND", "PORT"), help=argparse.SUPPRESS)
    ap.add_argument("--no-batching", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--models", nargs="+", default=["lenet5", "resnet18"])
    ap.add_argument("--backends", nargs="+", default=["onnx", "torch"])
    ap.add_argument("--clients", nargs="+", type=int, default=[1, 8, 32])
    ap.add_argument("--requests", type=int, default=256, help="requests per cell (at least 2 per client)")
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args()
    if args.serve:
        return serve(args.serve[0], args.serve[1], int(args.serve[2]), not args.no_batching)
    rows = []
    for name in args.models:
        for backend in args.backends:
            one, many = model_only(name, backend, 1), model_only(name, backend, 32)
            rows.append({"model": name, "backend": backend, "model_only_ips_b1": one, "model_only_ips_b32": many})
            print(f"model calls only: {name} {backend}: {one:.0f} images/s at batch 1, {many:.0f} at batch 32")
    print(f"{'model':9} {'backend':7} {'batching':8} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'mean batch':>10}")
    for name in args.models:
        image = png(build(name)[1])
        for backend in args.backends:
            for batching in (True, False):
                proc, base = start_server(name, backend, batching)
                try:
                    for clients in args.clients:
                        before = httpx.get(base + "/health").json()["stats"]
                        r = asyncio.run(load(base + "/predict", image, clients, max(args.requests, 2 * clients)))
                        after = httpx.get(base + "/health").json()["stats"]
                        r["mean_batch"] = (after["images"] - before["images"]) / (after["model_calls"] -
                                                                                  before["model_calls"])
                        rows.append({"model": name, "backend": backend, "batching": batching, "clients": clients, **r})
                        print(f"{name:9} {backend:7} {'on' if batching else 'off':8} {clients:7d} {r['rps']:8.1f} "
                              f"{r['p50_ms']:8.1f} {r['p99_ms']:8.1f} {r['mean_batch']:10.1f}", flush=True)
                finally:
                    proc.terminate()
                    proc.wait(timeout=30)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
