import pytest
import torch

from nnlab.errors import ConfigError
from nnlab.models.generative import GENERATIVE


@pytest.mark.parametrize("kind", ["mlp", "conv"])
@pytest.mark.parametrize("size", [(8, 8), (28, 28), (7, 9)])
def test_reconstruction_has_the_input_shape(kind, size):
    model = GENERATIVE.build("autoencoder", in_chans=2, input_size=size, kind=kind, latent=5)
    x = torch.randn(3, 2, *size)
    z = model.encode(x)
    assert z.shape == (3, 5) and model.decode(z).shape == x.shape and model(x).shape == x.shape


def test_the_code_is_the_bottleneck():
    model = GENERATIVE.build("autoencoder", in_chans=1, input_size=(8, 8), hidden=[32], latent=3)
    widths = [m.out_features for m in model.encoder if isinstance(m, torch.nn.Linear)]
    assert widths == [32, 3]


@pytest.mark.parametrize("options, match", [
    ({"kind": "rnn"}, "kind"), ({"latent": 0}, "model.latent"), ({"hidden": []}, "model.hidden"),
    ({"kind": "conv", "hidden": [8, 8, 8, 8, 8]}, "stride-2 stages"),
])
def test_bad_options_are_clear(options, match):
    with pytest.raises(ConfigError, match=match):
        GENERATIVE.build("autoencoder", in_chans=1, input_size=(8, 8), **options)
