"""Zoo classifiers as multi-scale feature extractors; the tiny default backbone."""
import pytest
import torch

from nnlab.errors import ConfigError, UserError
from nnlab.models import MODELS
from nnlab.models.detection.assemble import build_parts
from nnlab.models.detection.backbones import TinyBackbone, build_backbone


@pytest.mark.parametrize("name, levels, form, channels, strides", [
    ("resnet18", 3, "imagenet", [128, 256, 512], [8, 16, 32]),
    ("resnet18", 4, "small", [64, 128, 256, 512], [1, 2, 4, 8]),
    ("vgg11", 3, "small", [256, 512, 512], [8, 16, 32]),
    ("lenet5", 2, None, [6, 16], [2, 4]),
])
def test_zoo_backbone_channels_and_strides(name, levels, form, channels, strides):
    options = {"form": form} if form else {}
    bb = build_backbone(name, 1, (64, 64), levels, **options)
    assert bb.channels == channels and bb.strides == strides
    out = bb(torch.randn(2, 1, 64, 64))
    assert list(out) == bb.names and [x.shape[1] for x in out.values()] == channels
    if name != "lenet5":  # LeNet's unpadded 5x5 convs shrink the maps by more than the stride
        assert [x.shape[-1] for x in out.values()] == [64 // s for s in strides]


def test_zoo_backbone_matches_the_classifiers_taps_and_drops_its_head():
    torch.manual_seed(0)
    clf = MODELS.build("resnet18", num_classes=5, in_chans=3, input_size=(64, 64), form="imagenet").eval()
    bb = build_backbone("resnet18", 3, (64, 64), 2, form="imagenet").eval()
    assert bb.load_classifier_state(clf.state_dict()) == len(bb.body.state_dict())  # the head is skipped
    assert not hasattr(bb.body, "fc")
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        taps, mine = clf.feature_taps(x), bb(x)
    assert list(mine) == ["layer3", "layer4"]
    for k in mine:
        torch.testing.assert_close(mine[k], taps[k])


def test_backbone_without_enough_taps_is_refused_before_training():
    with pytest.raises(ConfigError, match="lenet5.*2 feature taps.*needs 3"):
        build_backbone("lenet5", 1, (64, 64), 3)


def test_classifier_without_taps_is_refused():
    with pytest.raises(ConfigError, match="no feature taps"):
        build_backbone("mlp", 1, (28, 28), 1)


def test_tiny_backbone_strides_and_widths():
    bb = TinyBackbone(3, levels=3, width=4)
    assert bb.strides == [8, 16, 32] and bb.channels == [16, 32, 32]
    shallow = TinyBackbone(3, levels=1, width=4, depth=4)
    assert shallow.strides == [16] and len(shallow.stages) == 4
    with pytest.raises(ConfigError, match="levels"):
        TinyBackbone(3, levels=4, depth=3)


def test_image_smaller_than_the_stride_is_refused():
    with pytest.raises(ConfigError, match="smaller than the network's stride 32"):
        build_parts("tiny", "fpn", in_chans=1, input_size=(24, 24), levels=3, width=4, neck_width=8, merge="add")


def test_neck_needing_more_levels_is_refused():
    with pytest.raises(ConfigError, match="at least 2 levels"):
        build_parts("tiny", "fpn", in_chans=1, input_size=(64, 64), levels=1, width=4, neck_width=8, merge="add")


def test_unknown_neck_names_the_valid_ones():
    with pytest.raises(UserError, match="Did you mean .fpn."):
        build_parts("tiny", "fnp", in_chans=1, input_size=(64, 64), levels=2, width=4, neck_width=8, merge="add")


def test_classifier_weights_of_another_shape_are_refused():
    clf = MODELS.build("resnet18", num_classes=5, in_chans=1, input_size=(64, 64), form="imagenet")
    bb = build_backbone("resnet18", 3, (64, 64), 2, form="imagenet")
    with pytest.raises(UserError, match="conv1.weight: \\(64, 1, 7, 7\\) vs \\(64, 3, 7, 7\\)"):
        bb.load_classifier_state(clf.state_dict())
    with pytest.raises(UserError, match="missing"):
        bb.load_classifier_state({})
