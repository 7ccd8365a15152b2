import pytest
import torch

from nnlab.api import build_model
from tests.models.cnn.conftest import imagenet_count, torchvision_count

NAMES = [f"vgg{d}{bn}" for d in (11, 13, 16, 19) for bn in ("", "_bn")]


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) for n in NAMES])
def test_torchvision_state_dict_gives_the_same_logits(parity, name):
    parity(name, side=32)  # the 7x7x512 -> 4096 classifier makes each build ~1 s


@pytest.mark.parametrize("name", NAMES)
def test_parameter_count_equals_torchvision(name):
    assert imagenet_count(name) == torchvision_count(name)


def test_only_3x3_convolutions_and_small_form_reaches_1x1_from_28():
    model = build_model("vgg11", 10, 1, (28, 28))
    assert {m.kernel_size for m in model.modules() if isinstance(m, torch.nn.Conv2d)} == {(3, 3)}
    assert model.forward_features(torch.randn(1, 1, 28, 28)).shape == (1, 512, 1, 1)
    assert model.classifier[0].in_features == 512


def test_norm_option_inserts_a_norm_after_every_conv():
    model = build_model("vgg11", 10, 3, (32, 32), norm="group")
    assert sum(isinstance(m, torch.nn.GroupNorm) for m in model.modules()) == 8
