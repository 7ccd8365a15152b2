"""Every registered model, at every input size it supports: shape, gradients, no NaN, state round trip."""
import pytest
import torch

from nnlab.api import build_model
from nnlab.errors import ConfigError
from nnlab.models import MODELS

SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]
# zoo models (no early downsampling in the small form) take seconds per case at 28x28 and up on CPU: each runs
# at the smallest size it takes, the other sizes with the slow tests
# (the deepest ones take seconds just to build and step: all their sizes are slow tests)
SMALLEST = {"lenet5": 28, "alexnet": 28}
HEAVY = {"resnet101", "resnet152", "densenet169", "densenet201", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"}


def _fast(name: str, side: int) -> bool:
    return name in ("knn", "mlp", "softmax", "svm", "lenet5") or (name not in HEAVY and side == SMALLEST.get(name, 8))


CASES = [pytest.param(name, shape, marks=[] if _fast(name, shape[1]) else [pytest.mark.slow])
         for name in MODELS.names() for shape in SHAPES]


def _build(name, shape, classes=7):
    try:
        return build_model(name, classes, shape[0], shape[1:])
    except ConfigError as e:
        assert "at least" in str(e)  # the only acceptable refusal names the minimum size
        pytest.skip(f"{name} does not take {shape}: {e}")


@pytest.mark.parametrize("name, shape", CASES)
def test_model_contract(name, shape):
    torch.manual_seed(0)
    model = _build(name, shape)
    x = torch.randn(4, *shape)
    if not getattr(model, "needs_training", True):
        model.memorize(torch.randn(10, *shape), torch.arange(10) % 7)
    out = model(x)
    assert out.shape == (4, 7) and torch.isfinite(out).all()
    params = [p for p in model.parameters() if p.requires_grad]
    if params:
        out.square().mean().backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
        assert not missing, f"no finite gradient reaches {missing}"
        before = [p.detach().clone() for p in params]
        torch.optim.SGD(params, lr=1e-3).step()  # small: deep nets blow up at 0.1
        assert any(not torch.equal(a, b) for a, b in zip(before, params))
    clone = _build(name, shape)
    clone.load_state_dict(model.state_dict())
    model.eval(), clone.eval()
    with torch.no_grad():
        assert torch.equal(model(x), clone(x))
