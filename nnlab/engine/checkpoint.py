"""Atomic checkpoint files: write to a temporary file beside the target, fsync, then rename."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from nnlab.errors import UserError


def atomic_write_bytes(path: str | Path, write: Any) -> None:
    """Call ``write(file)`` on a temp file in the same folder, then atomically replace ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(obj: dict[str, Any], path: str | Path) -> None:
    """Save a checkpoint so that a crash mid-write never leaves a damaged file at ``path``."""
    atomic_write_bytes(path, lambda f: torch.save(obj, f))


def load(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:  # torch raises many types for damaged files
        raise UserError(f"checkpoint {path} cannot be read ({type(e).__name__}: {e})") from None


def write_json(path: str | Path, data: Any) -> None:
    atomic_write_bytes(path, lambda f: f.write(json.dumps(data, indent=2, default=str).encode()))
