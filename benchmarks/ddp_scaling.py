"""Data-parallel throughput: 1 vs N processes (DDP over gloo on CPU, NCCL on a GPU), the communication share
of a step, and a model of the speed-up on 4-64 GPUs from the measured compute time and gradient size.

Each configuration runs the same global batch of synthetic images (LeNet-5 on 1x28x28, ResNet-20 on 3x32x32)
in W forked processes with ``cores / W`` threads each. A step is timed twice: with DDP's all-reduce, and
under ``no_sync()`` (compute only); their difference is the communication (and waiting) share.
    python benchmarks/ddp_scaling.py [--procs 1 2] [--steps 20] [--batch 128] [--device cpu|cuda]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
import statistics
import time

import torch
import torch.distributed as tdist
from torch import nn

from nnlab.api import build_model
from nnlab.engine.distributed import threads_per_process

SHAPES = {"lenet5": (1, 28), "resnet20": (3, 32)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _timed(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, steps: int,
           device: torch.device) -> tuple[float, float]:
    """Median seconds per step with the all-reduce and without it (``no_sync``), interleaved step by step so
    that the machine's load hits both alike; 3 warm-up steps first."""
    ddp = isinstance(model, nn.parallel.DistributedDataParallel)
    times: dict[bool, list[float]] = {True: [], False: []}
    for i in range(2 * steps + 3):
        sync = i % 2 == 0 or not ddp
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with model.no_sync() if not sync else torch.enable_grad():
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= 3:
            times[sync].append(time.perf_counter() - t0)
    full = statistics.median(times[True])
    return full, statistics.median(times[False]) if times[False] else full


def _rank(rank: int, world: int, threads: int, port: int, name: str, batch: int, steps: int, dev: str,
          out: mp.Queue) -> None:
    torch.set_num_threads(threads)
    device = torch.device("cuda", rank) if dev == "cuda" else torch.device("cpu")
    if world > 1:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        tdist.init_process_group("nccl" if dev == "cuda" else "gloo", rank=rank, world_size=world)
    c, s = SHAPES[name]
    torch.manual_seed(0)
    model = build_model(name, num_classes=10, in_chans=c, input_size=(s, s)).to(device)
    grad_bytes = sum(p.numel() for p in model.parameters()) * 4
    net = nn.parallel.DistributedDataParallel(model, device_ids=[rank] if dev == "cuda" else None) if world > 1 \
        else model
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch // world, c, s, s, device=device)  # (b, C, H, W): this rank's share
    y = torch.randint(0, 10, (batch // world,), device=device)
    full, compute = _timed(net, opt, x, y, steps, device)
    if world > 1:
        tdist.destroy_process_group()
    if rank == 0:
        out.put({"step_s": full, "compute_s": compute, "grad_bytes": grad_bytes})


def measure(name: str, world: int, threads: int, batch: int, steps: int, dev: str) -> dict[str, float]:
    ctx = mp.get_context("fork" if dev == "cpu" else "spawn")
    out = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_rank, args=(r, world, threads, port, name, batch, steps, dev, out)) for r in range(world)]
    for p in procs:
        p.start()
    res = out.get(timeout=1200)
    for p in procs:
        p.join()
    return res


def ring_allreduce_s(nbytes: float, world: int, bw: float, latency: float, bucket: float = 25e6) -> float:
    """Ring all-reduce: each of ceil(size / bucket) buckets moves 2(W-1)/W of its bytes per GPU, in 2(W-1)
    latency-bound steps."""
    buckets = max(1, -(-int(nbytes) // int(bucket)))
    return 2 * (world - 1) / world * nbytes / bw + buckets * 2 * (world - 1) * latency


GPU_STEP_S = {"lenet5": 1e-3, "resnet20": 5e-3}  # assumed GPU step at batch 128 (launch-bound small nets)


def model_table(compute_s: float, grad_bytes: float, name: str) -> list[str]:
    """Weak scaling (per-GPU batch fixed): speed-up = W * t / (t + exposed all-reduce), the all-reduce
    overlapping backward (about 2/3 of the step t) as DDP's buckets do. Links: NVLink within an 8-GPU node
    (bus 150 GB/s, 5 us per ring step), InfiniBand 200 Gb/s between nodes (25 GB/s, 10 us). Two step times:
    the measured CPU one, and an assumed GPU one (``GPU_STEP_S``)."""
    rows = []
    for w in (4, 8, 16, 32, 64):
        bw, lat = (150e9, 5e-6) if w <= 8 else (25e9, 10e-6)
        comm = ring_allreduce_s(grad_bytes, w, bw, lat)
        ups = [w * t / (t + max(0.0, comm - t * 2 / 3)) for t in (compute_s, GPU_STEP_S[name])]
        rows.append(f"| {name} | {grad_bytes / 1e6:.2f} | {w} | {comm * 1e3:.3f} | {ups[0]:.1f} | {ups[1]:.1f} |")
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--models", nargs="+", default=list(SHAPES))
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = p.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}; global batch {args.batch}; device {args.device}")
    print("| model | processes | threads each | images/s | step ms | compute ms | comm share |")
    print("|---|---|---|---|---|---|---|")
    models: dict[str, tuple[float, float]] = {}
    for name in args.models:
        runs = [(w, threads_per_process(w)) for w in args.procs] if args.device == "cpu" else \
            [(w, 1) for w in args.procs]
        if args.device == "cpu" and threads_per_process(1) > 1:
            runs.insert(0, (1, 1))  # one process on one core: the per-core baseline
        for w, threads in runs:
            r = measure(name, w, threads, args.batch, args.steps, args.device)
            share = max(0.0, 1 - r["compute_s"] / r["step_s"])
            print(f"| {name} | {w} | {threads} | {args.batch / r['step_s']:.0f} | {r['step_s'] * 1e3:.1f} | "
                  f"{r['compute_s'] * 1e3:.1f} | {share:.0%} |", flush=True)
            step = r["step_s"] * 128 / args.batch
            if w == 1 and step < models.get(name, (float("inf"), 0.0))[0]:  # the faster one-process run
                models[name] = (step, r["grad_bytes"])
    print("\nModelled weak scaling, per-device batch 128 (speed-up over one device):")
    print("| model | gradients MB | GPUs | all-reduce ms | speed-up, measured step | speed-up, assumed GPU step |")
    print("|---|---|---|---|---|---|")
    for name, (compute, nbytes) in models.items():
        print("\n".join(model_table(compute, nbytes, name)))


if __name__ == "__main__":
    main()
