"""The timm-style contract of every CNN classifier, and its by-name options."""
import pytest
import torch

from nnlab.api import build_model
from nnlab.models import MODELS
from nnlab.models.cnn.base import Classifier

ZOO = [n for n in MODELS.names() if n not in ("knn", "mlp", "softmax", "svm")]
SIDE = {"lenet5": 28, "alexnet": 16}  # the smallest input each takes (others: 8x8)
HEAVY = {"resnet101", "resnet152", "densenet169", "densenet201", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"}
CASES = [pytest.param(n, marks=[pytest.mark.slow] if n in HEAVY else []) for n in ZOO]


@pytest.mark.parametrize("name", CASES)
def test_timm_contract(name):
    torch.manual_seed(0)
    side = SIDE.get(name, 8)
    model = build_model(name, 5, 1, (side, side)).eval()
    assert isinstance(model, Classifier)
    x = torch.randn(2, 1, side, side)
    with torch.no_grad():
        feats = model.forward_features(x)
        assert feats.shape[1] == model.num_features
        torch.testing.assert_close(model.forward_head(feats), model(x))
        assert model.forward_head(feats, pre_logits=True).ndim == 2
        taps = model.feature_taps(x)
        assert len(taps) >= 2 and torch.equal(list(taps.values())[-1], feats)
        sides = [t.shape[-1] for t in taps.values()]
        assert sides == sorted(sides, reverse=True)
        model.reset_classifier(3)
        assert model(x).shape == (2, 3) and model.get_classifier().out_features == 3


@pytest.mark.parametrize("name", CASES)
def test_activation_norm_init_options(name):
    side = SIDE.get(name, 8)
    model = build_model(name, 4, 3, (side, side), activation="leaky_relu", norm="group", init="he")
    kinds = {type(m) for m in model.modules()}
    assert torch.nn.LeakyReLU in kinds and torch.nn.GroupNorm in kinds and torch.nn.ReLU not in kinds
    assert torch.isfinite(model(torch.randn(2, 3, side, side))).all()
