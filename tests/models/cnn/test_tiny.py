"""The zoo classifier ``tiny``: the detection default backbone's stages with a classifier head."""
import pytest
import torch

from nnlab.errors import ConfigError
from nnlab.models import MODELS
from nnlab.models.detection.backbones import TinyBackbone


def test_its_stages_are_the_tiny_backbones_with_the_same_keys():
    clf = MODELS.build("tiny", num_classes=2, in_chans=3, input_size=(64, 64), width=4)
    bb = TinyBackbone(3, levels=3, width=4)
    assert set(bb.state_dict()) == {k for k in clf.state_dict() if k.startswith("stages.")}
    assert set(clf.state_dict()) - set(bb.state_dict()) == {"fc.weight", "fc.bias"}
    bb.load_classifier_state(clf.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        taps, maps = clf.eval().feature_taps(x), bb.eval()(x)
    for name, i in zip(maps, (3, 4, 5)):  # the backbone's c3..c5 are the classifier's stages 2..4
        torch.testing.assert_close(maps[name], taps[f"stages.{i - 1}"])


def test_head_reads_the_pooled_last_stage():
    clf = MODELS.build("tiny", num_classes=3, in_chans=1, input_size=(32, 32), width=4, depth=3).eval()
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        feats = clf.forward_features(x)  # (2, 16, 4, 4)
        assert feats.shape == (2, 16, 4, 4) and clf.num_features == 16
        torch.testing.assert_close(clf(x), clf.fc(feats.mean(dim=(2, 3))))


def test_bad_depth_and_width_are_refused():
    with pytest.raises(ConfigError, match="1 to 5 stages"):
        MODELS.build("tiny", num_classes=2, in_chans=1, input_size=(32, 32), depth=6)
    with pytest.raises(ConfigError, match="model.width"):
        MODELS.build("tiny", num_classes=2, in_chans=1, input_size=(32, 32), width=0)
