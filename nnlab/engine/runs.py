"""Run directories: ``runs/<task>/<name>-<n>/``, created atomically so runs never overwrite runs.

This module owns the layout; every other module asks ``RunDir`` for a path instead of spelling file names:
``config.yaml`` (resolved), ``meta.json`` (task, status, best metric, what the task needs to rebuild its model),
``metrics.csv``, ``checkpoints/`` (``last.pt``, ``best.pt``, ``epoch-N.pt``), ``eval/``, ``tensorboard/``,
``samples/`` (``epoch_NNN.png``: a generative run's samples after each epoch), ``web/`` (figures the workbench
drew for this run), ``subset.npz`` (the training samples of a run trained on a subset) and, while a process
trains in it, ``train.lock`` (see ``RunLock``).
"""
from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnlab.engine.checkpoint import load as load_checkpoint, write_json
from nnlab.errors import UserError

META = "meta.json"


@dataclass(frozen=True)
class RunDir:
    """The paths of one run directory."""

    path: Path

    def __init__(self, path: str | Path) -> None:
        object.__setattr__(self, "path", Path(path))

    @property
    def config(self) -> Path:
        return self.path / "config.yaml"

    @property
    def meta(self) -> Path:
        return self.path / META

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last(self) -> Path:
        return self.checkpoints / "last.pt"

    @property
    def best(self) -> Path:
        return self.checkpoints / "best.pt"

    @property
    def eval(self) -> Path:
        return self.path / "eval"

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

    @property
    def subset(self) -> Path:
        return self.path / "subset.npz"

    @property
    def samples(self) -> Path:
        return self.path / "samples"

    def sample_grid(self, epoch: int) -> Path:
        """The grid of samples drawn after ``epoch`` (``samples/epoch_NNN.png``)."""
        return self.samples / f"epoch_{epoch:03d}.png"

    def sample_grids(self) -> list[Path]:
        """The per-epoch sample grids, oldest first."""
        return sorted(self.samples.glob("epoch_*.png"), key=lambda p: int(p.stem.split("_")[1]))

    @property
    def web(self) -> Path:
        return self.path / "web"

    def checkpoint(self, weights: str) -> Path:
        """``best``, ``last`` or ``epoch-N`` as a checkpoint path."""
        return self.checkpoints / f"{weights}.pt"

    def snapshot(self, epoch: int) -> Path:
        return self.checkpoint(f"epoch-{epoch}")

    def snapshots(self) -> list[Path]:
        """The kept ``epoch-N.pt`` snapshots, oldest first."""
        return sorted(self.checkpoints.glob("epoch-*.pt"), key=lambda p: int(p.stem.split("-")[1]))

    def weights(self, prefer: str = "best") -> Path:
        """The ``prefer`` checkpoint, else ``last.pt``; a clear error when the run has neither."""
        for path in (self.checkpoint(prefer), self.last):
            if path.is_file():
                return path
        raise UserError(f"{self.path} has no checkpoint yet (checkpoints/{prefer}.pt or last.pt)")


def new_run_dir(root: str | Path, task: str, name: str) -> Path:
    """Create the first free ``<root>/<task>/<name>-<n>`` (mkdir is atomic, so two runs never share one)."""
    parent = Path(root) / task
    parent.mkdir(parents=True, exist_ok=True)
    taken = [int(p.name.rsplit("-", 1)[1]) for p in parent.glob(f"{name}-*")
             if p.name.rsplit("-", 1)[1].isdigit() and p.name.rsplit("-", 1)[0] == name]
    n = max(taken, default=0) + 1
    while True:
        path = parent / f"{name}-{n}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            n += 1


def checkpoint_note(run_dir: str | Path) -> str:
    """What a stopped run left to resume or extend from, as it is on disk (never claimed when absent)."""
    last = RunDir(run_dir).last
    if last.is_file():
        return f"The last checkpoint was kept ({last})."
    return "No checkpoint was saved (it stopped before the first one)."


def read_meta(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / META
    if not path.is_file():
        raise UserError(f"{run_dir} is not an nnlab run directory (no {META})")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise UserError(f"{path} is damaged: {e}") from None


def update_meta(run_dir: str | Path, **fields: Any) -> dict[str, Any]:
    path = Path(run_dir) / META
    meta = json.loads(path.read_text()) if path.is_file() else {}
    meta.update(fields, updated=dt.datetime.now().isoformat(timespec="seconds"))
    write_json(path, meta)
    return meta


def find_runs(root: str | Path) -> list[Path]:
    """Every run directory under ``root``, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted((p.parent for p in root.rglob(META)), key=lambda p: (p / META).stat().st_mtime)


# ------------------------------------------------------------------------------------------- training lock
LOCK = "train.lock"


def _pid_in(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


class RunLock:
    """Held while a run trains, so two processes never write one run folder (e.g. ``--resume`` of a run that
    is still training). ``train.lock`` holds the owner's pid under an exclusive ``flock``, which the kernel
    drops when the owner dies (even on ``kill -9``); a lock file left behind is stale and reported as such."""

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / LOCK
        self.fd: int | None = None
        self.stale_pid: int | None = None  # pid of a dead process whose lock file was left behind

    def __enter__(self) -> "RunLock":
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if not _try_flock(fd):
                os.close(fd)
                raise UserError(_busy_message(self.path.parent, _pid_in(self.path)))
            try:  # the holder we waited on may have removed the file: lock the file that is there now
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self.fd = fd
        old = _pid_in(self.path)
        if old is not None and old != os.getpid():
            self.stale_pid = old
            print(f"note: {self.path} was left by process {old}, which is no longer running (killed?); "
                  "taking it over", file=sys.stderr)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            self.path.unlink(missing_ok=True)  # unlink while still holding the lock, then release
            os.close(self.fd)
            self.fd = None


def _try_flock(fd: int, tries: int = 5) -> bool:
    """An exclusive lock; a few short retries, so that a reader's brief shared lock is not taken for a holder."""
    for i in range(tries):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            time.sleep(0.02 * (i + 1))
    return False


def lock_holder(run_dir: str | Path) -> int | None:
    """The pid of the live process training ``run_dir``, or None when nobody holds its lock."""
    path = Path(run_dir) / LOCK
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _pid_in(path) or -1
    finally:
        os.close(fd)  # closing also drops the shared lock if we got it
    return None


def check_not_training(run_dir: str | Path) -> None:
    """Refuse to touch a run folder that another live process is training in."""
    pid = lock_holder(run_dir)
    if pid is not None:
        raise UserError(_busy_message(Path(run_dir), pid))


def _busy_message(run_dir: Path, pid: int | None) -> str:
    who = f"process {pid}" if pid and pid > 0 else "another process"
    return (f"{run_dir} is still training ({who} holds {run_dir / LOCK}); wait for it to finish or stop it "
            "(Ctrl-C) before resuming")


def live_meta(run_dir: str | Path) -> dict[str, Any]:
    """``meta.json``, except that a run marked running with no live lock holder (killed with ``kill -9``,
    a power cut) is reported as interrupted at its last checkpointed epoch with that checkpoint's best."""
    meta = read_meta(run_dir)
    if meta.get("status") != "running" or lock_holder(run_dir) is not None:
        return meta
    meta = {**meta, "status": "interrupted"}
    last = RunDir(run_dir).last
    if last.is_file():
        try:
            state = load_checkpoint(last).get("train_state") or {}
        except UserError:
            return meta
        meta.update({k: state[k] for k in ("best", "best_epoch") if k in state},
                    epochs_done=state.get("epoch", meta.get("epochs_done", 0)))
    return meta
