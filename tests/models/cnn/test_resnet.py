import pytest
import torch

from nnlab.api import build_model
from nnlab.errors import ConfigError
from nnlab.models.cnn.resnet import PadShortcut
from tests.models.cnn.conftest import count, imagenet_count, torchvision_count


@pytest.mark.parametrize("name", ["resnet18", "resnet50", *(pytest.param(n, marks=pytest.mark.slow)
                                                              for n in ("resnet34", "resnet101", "resnet152"))])
def test_torchvision_state_dict_gives_the_same_logits(parity, name):
    parity(name, side=32)


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"])
def test_parameter_count_equals_torchvision(name):
    assert imagenet_count(name) == torchvision_count(name)


@pytest.mark.parametrize("name, paper", [("resnet20", 0.27e6), ("resnet32", 0.46e6), ("resnet44", 0.66e6),
                                         ("resnet56", 0.85e6), ("resnet110", 1.7e6)])
def test_cifar_resnets_have_the_papers_parameter_counts(name, paper):
    n = count(build_model(name, 10, 3, (32, 32)))
    assert abs(n - paper) / paper < 0.02


def test_option_a_shortcut_pads_channels_with_zeros():
    x = torch.randn(2, 16, 8, 8)
    y = PadShortcut(2, 16)(x)
    assert y.shape == (2, 32, 4, 4)
    assert torch.equal(y[:, 8:24], x[:, :, ::2, ::2]) and y[:, :8].abs().sum() == 0 and y[:, 24:].abs().sum() == 0


def test_form_is_chosen_from_the_input_size():
    assert isinstance(build_model("resnet18", 10, 1, (28, 28)).maxpool, torch.nn.Identity)
    assert isinstance(build_model("resnet18", 10, 3, (224, 224)).maxpool, torch.nn.MaxPool2d)
    assert build_model("resnet20", 10, 1, (32, 32), form="imagenet").conv1.kernel_size == (7, 7)


def test_too_small_input_names_the_minimum():
    with pytest.raises(ConfigError, match="at least 32x32"):
        build_model("resnet18", 10, 3, (16, 16), form="imagenet")
    with pytest.raises(ConfigError, match="model.shortcut"):
        build_model("resnet20", 10, 3, (32, 32), shortcut="c")


def test_unknown_model_lists_the_zoo():
    from nnlab.errors import UserError

    with pytest.raises(UserError, match=r"Did you mean 'resnet18'.*densenet121.*googlenet.*vgg19_bn"):
        build_model("resnet17", 10, 3, (32, 32))
