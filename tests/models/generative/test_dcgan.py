"""DCGAN's shapes, its output range and clear errors."""
from __future__ import annotations

import pytest
import torch

from nnlab.errors import ConfigError
from nnlab.models.generative import GENERATIVE


@pytest.mark.parametrize("size", [(8, 8), (28, 28), (32, 16)])
def test_generator_and_discriminator_shapes(size):
    model = GENERATIVE.build("dcgan", in_chans=3, input_size=size, latent=5, width=4)
    images = model.sample(6, torch.Generator().manual_seed(0))
    assert images.shape == (6, 3, *size) and 0 <= images.min() and images.max() <= 1
    assert model.discriminator(images).shape == (6,)


@pytest.mark.parametrize("options, match", [({"input_size": (10, 8)}, "divisible by 4"),
                                            ({"d_norm": "layer"}, "d_norm"), ({"latent": 0}, "latent")])
def test_bad_options_are_clear(options, match):
    with pytest.raises(ConfigError, match=match):
        GENERATIVE.build("dcgan", **{"in_chans": 1, "input_size": (8, 8), **options})
