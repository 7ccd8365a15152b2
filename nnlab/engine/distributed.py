"""Data-parallel training on torch.distributed, one process per device, launched by torchrun.

torchrun (or ``nnlab train --nproc N``, a thin wrapper over its launcher) starts N copies of ``nnlab train``
and describes the group in the environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
``MASTER_PORT``). Each process joins the group here (gloo on CPU, NCCL on GPU), keeps
``cores / local processes`` threads, and trains on its slice of every global batch:

- the loader draws the same seeded permutation on every rank (the epoch's shuffle is the run's, as with one
  process: what ``DistributedSampler.set_epoch`` does) and each rank takes its contiguous slice of each
  global batch (``ShardedLoader``), so ``train.batch_size`` stays the global batch (per process: global / N);
- gradients are averaged across ranks by DistributedDataParallel for tasks that train through the model's
  ``forward``; tasks that call parts of the model themselves (a GAN's discriminator, a VAE's ELBO terms)
  average them with one flattened all-reduce after backward (``average_gradients``), the same arithmetic
  without DDP's overlap of communication and backward;
- the epoch's logs are summed across ranks, validation runs on rank 0 and its metrics (and so every best /
  early-stopping / stop decision) are broadcast, and only rank 0 writes the run directory, checkpoints, logs
  and the progress bar.
"""
from __future__ import annotations

import datetime as dt
import os
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

import torch
import torch.distributed as tdist
from torch import nn

from nnlab.engine.batch import batch_len
from nnlab.errors import ConfigError, UserError

T = TypeVar("T")
CONNECT_S = 20.0  # an unreachable rendezvous endpoint is named after this long (NNLAB_CONNECT_TIMEOUT_S)
COLLECTIVE_S = 1800.0  # a rank waits this long for the others (rank 0 validating, say) (NNLAB_DIST_TIMEOUT_S)


@dataclass(frozen=True)
class Dist:
    """This process's place in the group; ``Dist()`` is a single process (every collective a no-op)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1
    device: torch.device = torch.device("cpu")  # where collectives' tensors live (NCCL needs CUDA)

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def any(self, flag: bool) -> bool:
        """True on every rank when it is true on any (a Ctrl-C seen by one rank stops all at one batch)."""
        if not self.enabled:
            return flag
        t = torch.tensor([float(flag)], device=self.device)
        tdist.all_reduce(t, op=tdist.ReduceOp.MAX)
        return bool(t.item())

    def sum(self, values: Sequence[float]) -> list[float]:
        """Element-wise float64 sums over the ranks."""
        if not self.enabled or not values:
            return list(values)
        t = torch.tensor(list(values), dtype=torch.float64, device=self.device)
        tdist.all_reduce(t)
        return t.tolist()

    def broadcast(self, value: T) -> T:
        """Rank 0's ``value`` on every rank (any picklable object)."""
        if not self.enabled:
            return value
        box = [value]
        tdist.broadcast_object_list(box, src=0, device=self.device)
        return box[0]

    def on_main(self, fn: Callable[[], T]) -> T:
        """``fn()`` run on rank 0 only; its result on every rank (validation: one pass, one decision)."""
        return self.broadcast(fn() if self.main else None)


SINGLE = Dist()


def from_env(env: dict[str, str] | None = None) -> Dist:
    """The group torchrun describes in the environment (a single process when there is none)."""
    env = dict(os.environ if env is None else env)
    world = int(env.get("WORLD_SIZE", "1"))
    if world <= 1:
        return SINGLE
    return Dist(rank=int(env["RANK"]), world=world, local_rank=int(env.get("LOCAL_RANK", "0")),
                local_world=int(env.get("LOCAL_WORLD_SIZE", str(world))))


def threads_per_process(local_world: int) -> int:
    """Cores of this machine shared evenly by its training processes (at least one each)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, local_world))


def setup(device: torch.device) -> Dist:
    """Join the process group of the environment (nothing for one process): the backend for ``device``
    (NCCL on CUDA, gloo on CPU), threads per process, and a readable error when the rendezvous fails."""
    d = from_env()
    if not d.enabled:
        return d
    if device.type == "cuda":
        torch.cuda.set_device(d.local_rank)
        d = Dist(d.rank, d.world, d.local_rank, d.local_world, torch.device("cuda", d.local_rank))
    if "OMP_NUM_THREADS" not in os.environ or os.environ.get("NNLAB_THREADS_FROM_LAUNCHER"):
        torch.set_num_threads(threads_per_process(d.local_world))
    if tdist.is_initialized():
        return d
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not d.main or os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True":  # the store is served elsewhere
        _wait_for_endpoint(float(os.environ.get("NNLAB_CONNECT_TIMEOUT_S", CONNECT_S)))
    try:
        timeout = dt.timedelta(seconds=float(os.environ.get("NNLAB_DIST_TIMEOUT_S", COLLECTIVE_S)))
        tdist.init_process_group(backend, timeout=timeout)
    except (RuntimeError, ValueError) as e:  # DistNetworkError / DistStoreError are RuntimeErrors
        raise UserError(rendezvous_message(str(e))) from None
    if d.main:
        print(f"distributed: {d.world} processes ({backend}), {torch.get_num_threads()} threads each; "
              f"global batch split {d.world} ways", file=sys.stderr)
    return d


def rendezvous_message(error: str) -> str:
    """One readable line for a failed rendezvous: the port taken, or the endpoint unreachable."""
    addr = f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}"
    low = error.lower()
    if "address already in use" in low or "eaddrinuse" in low:
        return (f"port {os.environ.get('MASTER_PORT')} on {os.environ.get('MASTER_ADDR')} is taken (another "
                "distributed run?); pick a free one with --port (torchrun: --master-port) or leave it out")
    return (f"could not join the distributed group at {addr} ({error.splitlines()[0][:200]}); check that the "
            "rendezvous endpoint is reachable and that every node uses the same address and port")


def _wait_for_endpoint(seconds: float) -> None:
    """Fail within ``seconds`` (not after the collective timeout) when nothing listens at MASTER_ADDR:PORT."""
    host, port = os.environ.get("MASTER_ADDR", "127.0.0.1"), int(os.environ.get("MASTER_PORT", "29500"))
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection((host, port), timeout=2).close()
            return
        except OSError as e:
            if time.monotonic() > deadline:
                raise UserError(rendezvous_message(f"nothing answered for {seconds:.0f}s: {e}")) from None
            time.sleep(0.2)


def peer_lost(error: BaseException) -> bool:
    """Whether an error is a collective failing because another process of the group died or stopped."""
    text = str(error).lower()
    return isinstance(error, tdist.DistError) or any(
        s in text for s in ("connection reset by peer", "connection closed by peer", "broken pipe",
                            "connection refused", "timed out"))


def teardown() -> None:
    if tdist.is_initialized():
        tdist.destroy_process_group()


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def check_task(task: str, data_parallel: bool, batch_size: int | str, world: int) -> None:
    """Refuse a task that cannot train data-parallel, and a global batch that does not split."""
    if not data_parallel:
        raise UserError(f"task {task!r} does not support distributed training (its training loop is an "
                        "environment, not a dataset); run it in one process, without --nproc / torchrun")
    if batch_size != "full":
        check_batch(int(batch_size), world)


def check_batch(batch_size: int, world: int) -> None:
    """The global batch must split evenly: each rank's gradient is the mean over an equal share."""
    if world <= 1:
        return
    if batch_size < world:
        raise ConfigError(f"train.batch_size {batch_size} is smaller than the {world} processes; every process "
                          "needs at least one sample of each global batch")
    if batch_size % world:
        raise ConfigError(f"train.batch_size {batch_size} (the global batch) does not split evenly over {world} "
                          f"processes; use a multiple of {world}")


# ------------------------------------------------------------------------------------------- data
def take_slice(batch: Any, rank: int, world: int) -> Any:
    """Rank ``rank``'s contiguous slice of a batch of any structure (tensors and lists along the sample
    axis; flags and scalars as they are)."""
    n = batch_len(batch)
    lo, hi = n * rank // world, n * (rank + 1) // world
    return _slice(batch, n, lo, hi)


def _slice(x: Any, n: int, lo: int, hi: int) -> Any:
    if isinstance(x, torch.Tensor):
        return x[lo:hi] if x.ndim and x.shape[0] == n else x
    if isinstance(x, list):
        return x[lo:hi] if len(x) == n else [_slice(v, n, lo, hi) for v in x]
    if isinstance(x, tuple):
        return tuple(_slice(v, n, lo, hi) for v in x)
    if isinstance(x, dict):
        return {k: _slice(v, n, lo, hi) for k, v in x.items()}
    return x


class ShardedLoader:
    """A training loader whose global batches are split over the ranks: every rank draws the same seeded
    permutation (the wrapped loader's, resumable as before) and keeps its slice of each batch. The global
    batch is gathered (and augmented) whole on every rank, so a random transform draws the same numbers as
    one process would: N processes see exactly the samples, and augmentations, of one process."""

    def __init__(self, loader: Any, d: Dist) -> None:
        self.loader, self.dist = loader, d

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        for batch in self.loader:
            yield take_slice(batch, self.dist.rank, self.dist.world)

    def __getattr__(self, name: str) -> Any:  # state_dict, load_state_dict, epoch_logs, batch_size ...
        return getattr(self.loader, name)


# ------------------------------------------------------------------------------------------- gradients
def wrap(model: nn.Module, d: Dist, through_forward: bool, sync_bn: bool) -> nn.Module:
    """The module the task trains through: DDP over ``model`` when the task's loss goes through its
    ``forward``; the model itself otherwise (its gradients are then averaged by ``average_gradients``)."""
    if not d.enabled:
        return model
    if sync_bn:
        if d.device.type != "cuda":
            raise ConfigError("train.sync_bn needs CUDA (PyTorch's SyncBatchNorm runs on GPUs only); on CPU each "
                              "process keeps BatchNorm statistics of its own share of the batch")
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    if not through_forward:
        _broadcast_parameters(model)
        return model
    ids = [d.device.index] if d.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def _broadcast_parameters(model: nn.Module) -> None:
    """Start every rank from rank 0's weights and buffers (what DDP does when it wraps a model)."""
    with torch.no_grad():
        for t in [*model.parameters(), *model.buffers()]:
            tdist.broadcast(t.data, src=0)


def average_gradients(params: Iterable[torch.Tensor], d: Dist) -> None:
    """Replace each gradient by its mean over the ranks: one flattened all-reduce (a single bucket)."""
    if not d.enabled:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])  # (total,)
    tdist.all_reduce(flat)
    flat /= d.world
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()
