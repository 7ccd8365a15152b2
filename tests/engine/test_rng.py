import io
import random

import numpy as np
import torch

from nnlab.engine import rng


def _draw() -> tuple:
    return torch.rand(3).tolist(), np.random.rand(3).tolist(), np.random.randn(), random.random()


def test_capture_restore_continues_every_generator_exactly():
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    np.random.randn()  # leaves a cached gaussian in numpy's state
    state = rng.capture()
    first = _draw()
    _draw()
    rng.restore(state)
    assert _draw() == first


def test_captured_state_loads_with_weights_only():
    """The state is plain data: torch.load(weights_only=True) needs no extra globals."""
    state = rng.capture()
    buf = io.BytesIO()
    torch.save({"rng": state}, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)["rng"]
    first = _draw()
    rng.restore(loaded)
    assert _draw() == first


def test_restore_accepts_the_tuples_older_checkpoints_stored():
    np.random.seed(5), random.seed(5)
    old = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    first = _draw()
    rng.restore(old)
    assert _draw() == first
