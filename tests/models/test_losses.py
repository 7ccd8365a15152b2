import torch
import torch.nn.functional as F

from nnlab.models.losses import LOSSES


def _hinge_reference(s, y, margin):
    total = 0.0
    for i in range(len(y)):
        for j in range(s.shape[1]):
            if j != y[i]:
                total += max(0.0, float(s[i, j] - s[i, y[i]] + margin))
    return total / len(y)


def test_hinge_matches_cs231n_formula():
    g = torch.Generator().manual_seed(0)
    s, y = torch.randn(16, 5, generator=g), torch.randint(0, 5, (16,), generator=g)
    for margin in (1.0, 0.3):
        loss = LOSSES.build("hinge", margin=margin)(s, y)
        assert abs(loss.item() - _hinge_reference(s, y, margin)) < 1e-5


def test_hinge_soft_targets_equal_hard_for_one_hot():
    s, y = torch.randn(8, 4), torch.randint(0, 4, (8,))
    hinge = LOSSES.build("hinge")
    assert torch.allclose(hinge(s, F.one_hot(y, 4).float()), hinge(s, y))
    mixed = 0.3 * F.one_hot(y, 4).float() + 0.7 * F.one_hot((y + 1) % 4, 4).float()
    expect = 0.3 * _hinge_reference(s, y, 1.0) + 0.7 * _hinge_reference(s, (y + 1) % 4, 1.0)
    assert abs(hinge(s, mixed).item() - expect) < 1e-5


def test_cross_entropy_matches_torch():
    s, y = torch.randn(8, 4), torch.randint(0, 4, (8,))
    ce = LOSSES.build("cross_entropy", label_smoothing=0.1)
    assert torch.allclose(ce(s, y), F.cross_entropy(s, y, label_smoothing=0.1))
