import pytest
import torch
from torch import nn

from nnlab.errors import UserError
from nnlab.models import MODELS
from nnlab.models.detection import DETECTORS
from nnlab.models.detection.classic.convolutional import Convolutional, fully_convolutional
from nnlab.models.detection.classic.sliding_window import SlidingWindow
from tests.models.detection.classic.conftest import assert_well_formed


def zoo(name, side, **kw):
    torch.manual_seed(0)
    return MODELS.build(name, num_classes=3, in_chans=1, input_size=(side, side), **kw).eval()


CASES = [  # (classifier, patch side, stride): LeNet-5 (stride 4 = its two pools), an MLP head, a linear softmax
    ("lenet5", 32, 4, {}), ("lenet5", 32, 8, {"norm": "batch", "activation": "tanh", "pool": "avg"}),
    ("mlp", 12, 3, {"hidden": [16, 8], "norm": "batch"}), ("softmax", 10, 1, {}),
]


@pytest.mark.parametrize("name,side,stride,kw", CASES)
def test_one_pass_equals_the_sliding_window_scores(name, side, stride, kw):
    net = zoo(name, side, **kw)
    if kw.get("norm") == "batch":  # non-trivial running statistics
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    sliding = SlidingWindow(net, (side, side), 2, scales=(1.0, 1.3), stride=stride)
    conv = Convolutional(net, (side, side), 2, scales=(1.0, 1.3), stride=stride)
    image = torch.rand(1, 2 * side + 7, 3 * side + 2)
    for (s1, a), (s2, b) in zip(sliding.heatmaps(image), conv.heatmaps(image)):
        assert s1 == s2 and a.shape == b.shape and a.shape[1] > 1
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_weights_are_copied_not_shared():
    net = zoo("lenet5", 32)
    fcn = fully_convolutional(net, (32, 32), 4)
    first = next(m for m in fcn if isinstance(m, nn.Conv2d) and m.kernel_size == (5, 5) and m.out_channels == 120)
    torch.testing.assert_close(first.weight.flatten(1), net.classifier[1].weight)
    with torch.no_grad():
        net.classifier[1].weight.zero_()
    assert first.weight.abs().sum() > 0


def test_predict_and_fit(scenes):
    images, targets = scenes(8, size=32)
    det = DETECTORS.build("convolutional", classes=2, in_chans=1, patch=(16, 16), classifier="mlp", stride=2,
                          epochs=2)
    det.fit(images, targets)
    sliding = SlidingWindow(det.classifier, (16, 16), 2, stride=2)
    torch.testing.assert_close(det.heatmaps(images[0])[0][1], sliding.heatmaps(images[0])[0][1])  # rewritten again
    det.score_threshold = 1.01
    for r in det.predict(images[:2]):
        assert_well_formed(r, 2)
        assert len(r["boxes"]) == 0


def test_refuses_what_it_cannot_rewrite():
    with pytest.raises(UserError, match="ResNet is not one"):
        Convolutional(zoo("resnet18", 16), (16, 16), 2)
    with pytest.raises(UserError, match="pads its input"):
        Convolutional(zoo("lenet5", 28), (28, 28), 2)  # lenet5 pads 28x28 inputs by 2
    with pytest.raises(UserError, match="multiple of the network's own stride 4x4"):
        Convolutional(zoo("lenet5", 32), (32, 32), 2, stride=6)
    with pytest.raises(UserError, match="LayerNorm"):
        Convolutional(zoo("mlp", 8, norm="layer"), (8, 8), 2)
    with pytest.raises(UserError, match="Flatten"):
        Convolutional(nn.Sequential(nn.Conv2d(1, 3, 8)), (8, 8), 2)
    padded = Convolutional(zoo("lenet5", 28), (28, 28), 2, strict=False)  # accepted, scores approximate
    assert padded.heatmaps(torch.rand(1, 40, 40))[0][1].shape == (2, 4, 4)
