"""Run directories: ``runs/<task>/<name>-<n>/``, created atomically so runs never overwrite runs.

This module owns the layout; every other module asks ``RunDir`` for a path instead of spelling file names:
``config.yaml`` (resolved), ``meta.json`` (task, status, best metric, what the task needs to rebuild its model),
``metrics.csv``, ``checkpoints/`` (``last.pt``, ``best.pt``, ``epoch-N.pt``), ``eval/``, ``tensorboard/`` and
``subset.npz`` (the training samples of a run trained on a subset).
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnlab.engine.checkpoint import write_json
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
