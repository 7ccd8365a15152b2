import io

import pytest
import torch

from nnlab.rl.replay import ReplayBuffer


def _fill(buf: ReplayBuffer, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        buf.add(torch.full((2,), float(i)), i % 3, float(i), torch.full((2,), i + 0.5), i % 5 == 0)


def test_samples_only_written_slots_and_uniformly():
    buf = ReplayBuffer(100, 2, seed=0)
    _fill(buf, 10)
    s = buf.sample(20_000)
    assert s["obs"].shape == (20_000, 2) and s["reward"].max() <= 9  # slots 10..99 never come back
    counts = torch.bincount(s["reward"].long(), minlength=10).float()
    assert ((counts - 2000).abs() < 4 * 2000 ** 0.5).all()  # each written slot ~1/10 (within 4 sigma)
    assert torch.equal(s["next_obs"][:, 0], s["obs"][:, 0] + 0.5)  # rows stay whole


def test_ring_overwrites_the_oldest():
    buf = ReplayBuffer(4, 2)
    _fill(buf, 6)
    assert len(buf) == 4 and sorted(buf.reward.tolist()) == [2.0, 3.0, 4.0, 5.0]
    assert buf.terminated.tolist() == [0.0, 1.0, 0.0, 0.0]  # 5 is a multiple of 5: terminated


def test_state_dict_is_plain_and_resumes_sampling_exactly():
    a = ReplayBuffer(50, 2, seed=3)
    _fill(a, 30)
    a.sample(8)
    blob = io.BytesIO()
    torch.save(a.state_dict(), blob)
    blob.seek(0)
    b = ReplayBuffer(50, 2, seed=99)
    b.load_state_dict(torch.load(blob, weights_only=True))
    for _ in range(3):
        sa, sb = a.sample(16), b.sample(16)
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    _fill(a, 1, 30), _fill(b, 1, 30)
    assert a.pos == b.pos == 31 and torch.equal(a.obs, b.obs)


def test_same_seed_same_samples_and_empty_refused():
    x, y = ReplayBuffer(10, 2, seed=1), ReplayBuffer(10, 2, seed=1)
    _fill(x, 5), _fill(y, 5)
    assert torch.equal(x.sample(7)["reward"], y.sample(7)["reward"])
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(3, 1).sample(1)
