"""FCN on zoo backbones: taps, skips, the paper's initialisation; every variant overfits one batch."""
import pytest
import torch

from nnlab.errors import ConfigError
from nnlab.models.segmentation import SEGMENTERS
from tests.models.segmentation.conftest import overfit

TINY = dict(backbone="resnet20", form="small", head_width=32, dropout=0.0)  # strides 1 / 2 / 4 at 32x32


def test_fcn8s_on_vgg_reads_pool3_pool4_pool5():
    model = SEGMENTERS.build("fcn8s", classes=5, in_chans=3, backbone="vgg11", input_size=(64, 64))
    assert model.stride == 32 and [u.factor for u in model.skip_ups] == [2, 2] and model.final_up.factor == 8
    assert "backbone.features.0.weight" in model.state_dict()  # zoo keys: pretrained backbones load as they are
    assert not any(k.startswith("backbone.classifier.") for k in model.state_dict())  # the FC head is gone
    assert model(torch.randn(1, 3, 40, 50)).shape == (1, 5, 40, 50)


def test_fcn_skip_scores_start_at_zero_and_fcn32s_has_none():
    model = SEGMENTERS.build("fcn16s", classes=3, in_chans=3, **TINY)
    assert all(conv.weight.abs().sum() == 0 for conv in model.skip_scores) and len(model.skip_scores) == 1
    assert len(SEGMENTERS.build("fcn32s", classes=3, in_chans=3, **TINY).skip_scores) == 0


def test_fcn_refuses_a_backbone_without_feature_taps():
    with pytest.raises(ConfigError, match="feature taps"):
        SEGMENTERS.build("fcn8s", classes=2, in_chans=3, backbone="mlp")


@pytest.mark.parametrize("name", ["fcn32s", "fcn16s", "fcn8s"])
def test_fcn_overfits_one_batch(name):
    model = SEGMENTERS.build(name, classes=2, in_chans=3, **TINY)
    assert overfit(model) > 0.95


@pytest.mark.parametrize("upsample", ["bilinear", "unpool"])
def test_fcn8s_overfits_with_other_upsampling(upsample):
    model = SEGMENTERS.build("fcn8s", classes=2, in_chans=3, upsample=upsample, **TINY)
    assert overfit(model) > 0.95
