import pytest
import torch

from nnlab.engine import checkpoint
from nnlab.errors import UserError


def test_atomic_save_keeps_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "last.pt"
    checkpoint.save({"w": torch.ones(3)}, path)

    class Boom:
        def __reduce__(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        checkpoint.save({"w": torch.zeros(3), "x": Boom()}, path)
    assert torch.equal(checkpoint.load(path)["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temp files left


def test_damaged_checkpoint_is_a_clear_error(tmp_path):
    (tmp_path / "c.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot be read"):
        checkpoint.load(tmp_path / "c.pt")
    with pytest.raises(UserError, match="not found"):
        checkpoint.load(tmp_path / "missing.pt")


@pytest.mark.parametrize("fmt", ["zip", "legacy"])  # torch.save's format, and a bare pickle
def test_checkpoint_that_would_run_code_is_refused(tmp_path, fmt):
    from tests.conftest import malicious_checkpoint, malicious_pickle

    marker = tmp_path / "pwned"
    if fmt == "zip":
        malicious_checkpoint(tmp_path / "evil.pt", marker)
    else:
        (tmp_path / "evil.pt").write_bytes(malicious_pickle(marker))
    with pytest.raises(UserError, match="refers to posix.system.*refuses to load"):
        checkpoint.load(tmp_path / "evil.pt")
    assert not marker.exists()


def test_older_nnlab_checkpoint_with_numpy_rng_state_still_loads(tmp_path):
    """last.pt of nnlab before rng.capture() held numpy's get_state() tuple (an ndarray): admitted, nothing else."""
    import numpy as np

    np.random.seed(3)
    torch.save({"rng": {"numpy": np.random.get_state()}, "w": torch.ones(2)}, tmp_path / "old.pt")
    state = checkpoint.load(tmp_path / "old.pt")["rng"]["numpy"]
    assert state[0] == "MT19937" and state[1].dtype == np.uint32 and state[1].shape == (624,)
    np.random.set_state(state)
    assert np.random.rand() == np.random.RandomState(3).rand()
