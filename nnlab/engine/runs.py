"""Run directories: ``runs/<task>/<name>-<n>/``, created atomically so runs never overwrite runs.

Each holds ``config.yaml`` (resolved), ``meta.json`` (status, best metric, classes, preprocessing),
``metrics.csv`` and ``checkpoints/``.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from nnlab.engine.checkpoint import write_json
from nnlab.errors import UserError

META = "meta.json"


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
