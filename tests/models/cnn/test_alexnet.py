import torch

from nnlab.api import build_model
from tests.models.cnn.conftest import imagenet_count


def test_parameter_count_is_the_papers():
    assert abs(imagenet_count("alexnet") - 61e6) / 61e6 < 0.02  # 60,965,224 with the paper's two-GPU groups


def test_paper_design():
    model = build_model("alexnet", 1000, 3, (224, 224))
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [96, 256, 384, 384, 256]
    assert convs[0].kernel_size == (11, 11) and convs[0].stride == (4, 4)
    pools = [m for m in model.features if isinstance(m, torch.nn.MaxPool2d)]
    assert len(pools) == 3 and all(p.kernel_size == 3 and p.stride == 2 for p in pools)  # overlapping
    assert sum(isinstance(m, torch.nn.LocalResponseNorm) for m in model.features) == 2
    assert [m.p for m in model.classifier if isinstance(m, torch.nn.Dropout)] == [0.5, 0.5]
    assert model.forward_features(torch.randn(1, 3, 224, 224)).shape == (1, 256, 6, 6)
