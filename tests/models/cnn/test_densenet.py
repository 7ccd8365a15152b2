import pytest
import torch

from nnlab.api import build_model
from tests.models.cnn.conftest import imagenet_count, torchvision_count

NAMES = ["densenet121", "densenet169", "densenet201"]


@pytest.mark.parametrize("name", ["densenet121", *(pytest.param(n, marks=pytest.mark.slow) for n in NAMES[1:])])
def test_torchvision_state_dict_gives_the_same_logits(parity, name):
    parity(name, side=32)


@pytest.mark.parametrize("name", NAMES)
def test_parameter_count_equals_torchvision(name):
    assert imagenet_count(name) == torchvision_count(name)


def test_growth_and_compression():
    model = build_model("densenet121", 10, 3, (32, 32))
    block1 = model.features.denseblock1
    assert len(block1) == 6 and block1.denselayer1.conv2.out_channels == 32  # growth rate k = 32
    assert model.features.transition1.conv.out_channels == (64 + 6 * 32) // 2  # compression 0.5
    assert isinstance(model.features.transition1.pool, torch.nn.AvgPool2d)
    taps = model.feature_taps(torch.randn(1, 3, 16, 16))
    assert [t.shape[-1] for t in taps.values()] == [8, 4, 2, 2]
