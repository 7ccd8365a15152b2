import math

import pytest
import torch
from torch import nn

from nnlab.errors import ConfigError
from nnlab.models.layers import ACTIVATIONS, ConvNormAct, activation, init_weights, norm2d


def test_every_activation_by_name():
    x = torch.linspace(-2, 2, 9)
    for name in ACTIVATIONS:
        assert activation(name)(x).shape == x.shape
    torch.testing.assert_close(activation("leaky_relu")(x), nn.functional.leaky_relu(x))


@pytest.mark.parametrize("name, cls", [("batch", nn.BatchNorm2d), ("group", nn.GroupNorm), ("layer", nn.GroupNorm),
                                       ("instance", nn.InstanceNorm2d), ("none", nn.Identity)])
def test_norms_by_name(name, cls):
    layer = norm2d(name, 48)
    assert isinstance(layer, cls)
    if name == "group":
        assert layer.num_groups == 16  # gcd(32, 48): 32 groups do not divide 48 channels
    if name == "layer":  # one group: statistics over (C, H, W) of each sample, as nn.LayerNorm
        x = torch.randn(2, 48, 3, 3)
        ref = nn.functional.layer_norm(x, x.shape[1:])
        torch.testing.assert_close(layer(x), ref, rtol=1e-4, atol=1e-5)


def test_bad_names_list_the_valid_ones():
    with pytest.raises(ConfigError, match="model.activation.*relu, leaky_relu, sigmoid, tanh, elu, gelu"):
        activation("swish")
    with pytest.raises(ConfigError, match="model.norm.*batch, group, layer, instance, none"):
        norm2d("weight", 4)
    with pytest.raises(ConfigError, match="model.init.*gaussian, xavier, he"):
        init_weights(nn.Linear(2, 2), "lecun")


@pytest.mark.parametrize("scheme, std", [("gaussian", lambda fi, fo: 0.01),
                                         ("xavier", lambda fi, fo: math.sqrt(2 / (fi + fo))),
                                         ("he", lambda fi, fo: math.sqrt(2 / fi))])
def test_conv_init_scales(scheme, std):
    torch.manual_seed(0)
    conv = nn.Conv2d(64, 128, 3)
    init_weights(conv, scheme)
    fi, fo = 64 * 9, 128 * 9
    assert conv.weight.std().item() == pytest.approx(std(fi, fo), rel=0.05)
    assert conv.bias.abs().max() == 0


def test_conv_norm_act_drops_the_bias_under_a_norm():
    assert ConvNormAct(3, 8, 3)[0].bias is None and isinstance(ConvNormAct(3, 8, 3)[1], nn.BatchNorm2d)
    assert ConvNormAct(3, 8, 3, norm="none")[0].bias is not None


def test_mlp_norm_option():
    from nnlab.api import build_model

    model = build_model("mlp", 3, 1, (4, 4), hidden=[8, 8], norm="batch")
    assert sum(isinstance(m, nn.BatchNorm1d) for m in model.modules()) == 2
    assert model(torch.randn(5, 1, 4, 4)).shape == (5, 3)
    with pytest.raises(ConfigError, match="model.norm"):
        build_model("mlp", 3, 1, (4, 4), norm="instance")
