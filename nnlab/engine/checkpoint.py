"""Atomic checkpoint files: write to a temporary file beside the target, fsync, then rename."""
from __future__ import annotations

import json
import os
import pickle
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnlab.errors import UserError

# Checkpoints written by nnlab before 0.2 stored numpy's RNG state (a uint32 array) in last.pt. These are the
# only globals added to weights_only loading, and only inside ``load``: they rebuild a numeric array and
# cannot call anything else (an object-dtype array would still need globals that stay refused).
_RECONSTRUCT = np.empty(0).__reduce__()[0]  # numpy's array rebuilder (its module moved in numpy 2)
LEGACY_NUMPY = [np.ndarray, np.dtype, type(np.dtype(np.uint32)), (_RECONSTRUCT, "numpy._core.multiarray._reconstruct"),
                (_RECONSTRUCT, "numpy.core.multiarray._reconstruct")]


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
    """Read a checkpoint or state dict with ``weights_only=True``: tensors, numbers, strings, lists and dicts
    only, so a file that would run code (a pickled ``os.system`` call) is refused, never executed."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        with torch.serialization.safe_globals(LEGACY_NUMPY):
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        name = re.search(r"GLOBAL ([\w.]+)|got <class '([\w.]+)'>", str(e))
        if name is None:
            raise UserError(f"checkpoint {path} cannot be read (damaged or not a checkpoint)") from None
        raise UserError(f"checkpoint {path} is not plain weights (it refers to {name.group(1) or name.group(2)}, "
                        "which nnlab refuses to load: loading it could run code); use a checkpoint or state dict "
                        "of tensors") from None
    except Exception as e:  # torch raises many types for damaged files
        raise UserError(f"checkpoint {path} cannot be read ({type(e).__name__}: {e})") from None


def write_json(path: str | Path, data: Any) -> None:
    atomic_write_bytes(path, lambda f: f.write(json.dumps(data, indent=2, default=str).encode()))
