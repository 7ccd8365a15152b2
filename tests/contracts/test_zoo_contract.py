"""The timm-style contract of every CNN classifier, and its by-name options."""
import pytest
import torch

from nnlab.api import build_model
from nnlab.models import MODELS
from nnlab.models.cnn.base import Classifier

ZOO = [n for n in MODELS.names() if n not in ("knn", "mlp", "softmax", "svm")]
LIGHT = {"lenet5", "alexnet", "resnet18", "resnet20", "resnet32", "googlenet", "densenet121", "vgg11"}
CASES = [pytest.param(n, marks=[] if n in LIGHT else [pytest.mark.slow]) for n in ZOO]


@pytest.mark.parametrize("name", CASES)
def test_timm_contract(name):
    torch.manual_seed(0)
    model = build_model(name, 5, 1, (28, 28)).eval()
    assert isinstance(model, Classifier)
    x = torch.randn(2, 1, 28, 28)
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


@pytest.mark.parametrize("name", [n for n in ZOO if n in LIGHT])
def test_activation_norm_init_options(name):
    model = build_model(name, 4, 3, (32, 32), activation="leaky_relu", norm="group", init="he")
    kinds = {type(m) for m in model.modules()}
    assert torch.nn.LeakyReLU in kinds and torch.nn.GroupNorm in kinds and torch.nn.ReLU not in kinds
    assert torch.isfinite(model(torch.randn(2, 3, 32, 32))).all()
