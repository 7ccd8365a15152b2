"""``nnlab train CONFIG --nproc N``: N training processes on this machine through torchrun's launcher.

A thin wrapper over ``torch.distributed.run`` (the torchrun command): the same as
``OMP_NUM_THREADS=<cores/N> torchrun --nproc-per-node N -m nnlab train CONFIG ...``, plus a free port by
default, a readable message when the asked-for port is taken, and what to do when a process dies. Each
process then joins the group in ``nnlab.engine.distributed``. Several machines: run torchrun on each
(README, "Training on several processes or machines").
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Sequence

from nnlab.api import validate
from nnlab.config import Config
from nnlab.engine import distributed, runs
from nnlab.errors import TrainingStopped, UserError


def launch(train_args: Sequence[str], nproc: int, port: int | None = None, runs_root: str | Path = "runs",
           resume: str | None = None, cfg: Config | None = None) -> int:
    """Run ``nnlab train <train_args>`` in ``nproc`` processes; their exit status (0 when all succeeded).
    ``cfg``: the run's config, checked here before any process starts."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    if nproc < 1:
        raise UserError(f"--nproc must be at least 1 (got {nproc})")
    if port is not None and not distributed.port_free(port):
        raise UserError(f"port {port} on this machine is taken (another distributed run?); pick a free one with "
                        "--port, or leave --port out to get a free one")
    if cfg is not None:
        preflight(cfg, nproc)
    os.environ.setdefault("OMP_NUM_THREADS", str(distributed.threads_per_process(nproc)))
    print(f"nnlab: {nproc} training processes, {os.environ['OMP_NUM_THREADS']} threads each (OMP_NUM_THREADS)",
          file=sys.stderr)
    argv = [f"--nproc-per-node={nproc}", *([f"--master-port={port}"] if port is not None else []),
            "-m", "nnlab", "train", *train_args]
    started = time.time()
    try:
        run(parse_args(argv))
    except ChildFailedError as e:
        raise TrainingStopped(_failure_note(e.failures, nproc, runs_root, resume, started)) from None
    except SignalException:
        return 130  # Ctrl-C: rank 0 saved a checkpoint and printed how to resume
    return 0


def preflight(cfg: Config, nproc: int) -> None:
    """What would stop every process at start-up, said once: the task, the model, the batch split."""
    task = validate(cfg)
    if nproc > 1:
        distributed.check_task(cfg.task, task.data_parallel, cfg.train.batch_size, nproc)


def threads_per_process(nproc: int) -> int:
    """Threads for each of ``nproc`` training processes on this machine."""
    return distributed.threads_per_process(nproc)


def main_process() -> bool:
    """False in the processes of a distributed run other than rank 0 (which reports for the group)."""
    return distributed.from_env().main


def finish() -> None:
    """Leave the process group, if this process joined one."""
    distributed.teardown()


def _failure_note(failures: dict, nproc: int, runs_root: str | Path, resume: str | None, started: float) -> str:
    """Which processes failed and how (a killed one by its signal), and how to resume the run."""
    parts = []
    for i, (rank, f) in enumerate(sorted(failures.items(), key=lambda kv: kv[1].timestamp)):
        how = f"killed by {f.signal_name()}" if f.exitcode < 0 else f"exit code {f.exitcode}"
        parts.append(f"rank {rank} ({how}{', first' if i == 0 and len(failures) > 1 else ''})")
    run_dir = resume or _newest_run(runs_root, started)
    where = (f" The run keeps its last checkpoint; resume with: nnlab train --resume {run_dir} --nproc {nproc}"
             if run_dir and runs.RunDir(run_dir).last.is_file() else "")
    return f"distributed training failed: {', '.join(parts)}; the other processes were stopped.{where}"


def _newest_run(root: str | Path, since: float) -> str | None:
    fresh = [p for p in runs.find_runs(root) if p.stat().st_mtime >= since - 1]
    return str(fresh[-1]) if fresh else None
