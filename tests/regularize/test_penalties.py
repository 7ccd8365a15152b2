import torch
from torch import nn

from nnlab.regularize.penalties import Penalty, l1_penalty, l2_penalty, penalized_parameters


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))


def test_penalized_parameters_are_weights_only_by_default():
    m = _model()
    assert [p.shape for p in penalized_parameters(m)] == [m[0].weight.shape, m[3].weight.shape]
    assert len(penalized_parameters(m, include_bias=True)) == len(list(m.parameters()))


def test_terms_equal_their_formulas():
    m = _model()
    w = [m[0].weight, m[3].weight]
    l1 = sum(float(t.detach().abs().sum()) for t in w)
    l2 = sum(float((t.detach() ** 2).sum()) for t in w)
    assert torch.isclose(l1_penalty(w), torch.tensor(l1))
    assert torch.isclose(l2_penalty(w), torch.tensor(l2))
    assert torch.isclose(Penalty(l1=0.3, l2=0.02)(m), torch.tensor(0.3 * l1 + 0.02 * l2))
    assert not Penalty() and Penalty(l2=1e-4)


def test_weights_shrink_as_the_formula_says_with_zero_data_gradient():
    """SGD step on the penalty alone: w <- w - lr * (2 * l2 * w + l1 * sign(w)); biases do not move."""
    m = _model()
    lr, l1, l2 = 0.1, 0.01, 0.05
    before = {n: p.detach().clone() for n, p in m.named_parameters()}
    opt = torch.optim.SGD(m.parameters(), lr=lr)
    data_loss = 0.0 * m(torch.zeros(1, 1, 6, 6)).sum()  # zero data gradient
    (data_loss + Penalty(l1=l1, l2=l2)(m)).backward()
    opt.step()
    for name, p in m.named_parameters():
        w = before[name]
        expected = w - lr * (2 * l2 * w + l1 * w.sign()) if p.ndim > 1 else w
        torch.testing.assert_close(p.detach(), expected)
    assert m[0].weight.abs().sum() < before["0.weight"].abs().sum()
