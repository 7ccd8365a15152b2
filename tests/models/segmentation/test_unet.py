"""U-Net: configurable depth / width, concatenated skips; overfits one batch."""
import pytest
import torch

from nnlab.errors import ConfigError
from nnlab.models.segmentation import SEGMENTERS
from tests.models.segmentation.conftest import overfit


def test_unet_depth_and_width_shape_the_network():
    model = SEGMENTERS.build("unet", classes=3, in_chans=1, depth=2, width=4)
    assert [m.up.out_channels for m in model.up] == [4, 8]  # up-convolutions back to each level's width
    assert model.down[-1][0][0].out_channels == 16  # bottleneck: width * 2^depth
    assert model(torch.randn(2, 1, 13, 17)).shape == (2, 3, 13, 17)


def test_unet_refuses_a_zero_depth():
    with pytest.raises(ConfigError, match="depth"):
        SEGMENTERS.build("unet", classes=2, in_chans=3, depth=0)


@pytest.mark.parametrize("upsample", ["transposed", "bilinear"])
def test_unet_overfits_one_batch(upsample):
    model = SEGMENTERS.build("unet", classes=2, in_chans=3, depth=2, width=8, upsample=upsample)
    assert overfit(model) > 0.95
