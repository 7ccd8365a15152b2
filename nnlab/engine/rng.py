"""Capture and restore every random generator a run uses (torch, CUDA, numpy, python) as plain data.

The state holds only tensors, ints, floats, strings and lists, so checkpoints load with
``torch.load(weights_only=True)``: numpy's ``get_state()`` tuple carries an ndarray and python's
``random.getstate()`` a tuple of ints, both of which would otherwise need pickled globals.
"""
from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def capture() -> dict[str, Any]:
    """The current state of every generator, as plain tensors, numbers, strings and lists."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "numpy": {"kind": str(kind), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
                      "pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(gauss)},
            "python": {"version": int(version), "state": list(internal), "gauss_next": gauss_next}}


def restore(state: dict[str, Any]) -> None:
    """Set every generator from ``capture()``'s dict (or the tuples older nnlab checkpoints stored)."""
    torch.set_rng_state(state["torch"])
    np.random.set_state(_numpy_state(state["numpy"]))
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss_next"]) if isinstance(py, dict) else py)
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _numpy_state(st: Any) -> Any:
    if not isinstance(st, dict):  # an older checkpoint: numpy's own tuple
        return st
    keys = st["keys"].numpy().astype(np.uint32)  # (624,) Mersenne Twister key
    return st["kind"], keys, st["pos"], st["has_gauss"], st["gauss"]
