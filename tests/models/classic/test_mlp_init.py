import math

import pytest
import torch
from torch import nn

import nnlab
from nnlab.errors import ConfigError


@pytest.mark.parametrize("init, std", [("gaussian", lambda fi, fo: 0.01), ("xavier", lambda fi, fo: math.sqrt(2 / (fi + fo))),
                                       ("he", lambda fi, fo: math.sqrt(2 / fi))])
def test_init_sets_the_weight_scale(init, std):
    torch.manual_seed(0)
    model = nnlab.build_model("mlp", 10, 1, (16, 16), hidden=[512, 256], init=init)
    for layer in [m for m in model.modules() if isinstance(m, nn.Linear)][:2]:
        fo, fi = layer.weight.shape
        assert layer.weight.std().item() == pytest.approx(std(fi, fo), rel=0.05)
        assert layer.bias.abs().max().item() == 0


def test_unknown_init_is_a_config_error():
    with pytest.raises(ConfigError, match="model.init"):
        nnlab.build_model("mlp", 10, 1, (8, 8), init="lecun")
