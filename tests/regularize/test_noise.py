import copy

import torch
from torch import nn

from nnlab.regularize.noise import add_noise, noisy_forward


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def test_weight_noise_leaves_the_weights_exactly_as_they_were():
    m = _model()
    before = copy.deepcopy(m.state_dict())
    x = torch.randn(5, 4)
    out = noisy_forward(m, x, 0.5, torch.Generator().manual_seed(0))
    out.sum().backward()
    for k, v in m.state_dict().items():
        assert torch.equal(v, before[k])
    assert not torch.allclose(out, m(x))
    assert torch.equal(noisy_forward(m, x, 0.0), m(x))


def test_weight_noise_gradient_is_the_gradient_at_the_noisy_weights():
    m, x = _model(), torch.randn(5, 4)
    noisy_forward(m, x, 0.3, torch.Generator().manual_seed(7)).pow(2).sum().backward()
    ref = copy.deepcopy(m)
    ref.zero_grad()
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():  # the same draws, in the same order: weights only, biases untouched
        for layer in (ref[0], ref[2]):
            layer.weight.add_(0.3 * torch.randn(layer.weight.shape, generator=g))
    ref(x).pow(2).sum().backward()
    for p, q in zip(m.parameters(), ref.parameters()):
        torch.testing.assert_close(p.grad, q.grad)


def test_input_noise_has_the_asked_std():
    x = torch.zeros(200, 50)
    n = add_noise(x, 0.2, torch.Generator().manual_seed(0))
    assert abs(float(n.std()) - 0.2) < 0.01 and add_noise(x, 0.0) is x
