import torch

from nnlab.api import build_model
from nnlab.models.cnn.base import AuxLogits
from nnlab.tasks.classify import Classify, build_loss
from tests.models.cnn.conftest import imagenet_count


def test_parameter_count_is_the_papers():
    # 6,998,552; the paper's table 1 rounds per row (e.g. 3a: 163,328 -> "159K"), summing to ~6.8M: 3% apart
    n = imagenet_count("googlenet")
    assert abs(n - 6.8e6) / 6.8e6 < 0.03
    assert imagenet_count("googlenet", aux=True) - n == 2 * (128 * 512 + 128 + 2048 * 1024 + 1024 + 1025 * 1000) \
        + 128 * (528 - 512)


def test_inception_concatenates_the_four_branches():
    model = build_model("googlenet", 10, 3, (32, 32))
    assert model.blocks["inception3a"].out_channels == 256 and model.num_features == 1024
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in build_model("googlenet", 10, 3, (32, 32),
                                                                           norm="batch").modules())


def test_aux_classifiers_only_in_training_and_in_the_loss():
    torch.manual_seed(0)
    model = build_model("googlenet", 4, 1, (8, 8), aux=True)
    task = Classify(loss=build_loss("auto", model), num_classes=4)
    plain = build_loss("cross_entropy", torch.nn.Linear(1, 1))
    x, y = torch.randn(2, 1, 8, 8), torch.tensor([0, 3])
    model.train()
    out = model(x)  # training: the auxiliary logits come back from forward
    assert isinstance(out, AuxLogits) and len(out.aux) == 2 and out.weight == 0.3
    expected = plain(out.logits, y) + 0.3 * (plain(out.aux[0], y) + plain(out.aux[1], y))
    torch.manual_seed(1)
    loss, _ = task.training_step(model, (x, y))
    torch.manual_seed(1)
    again = model(x)
    torch.testing.assert_close(loss, plain(again.logits, y) + 0.3 * sum(plain(a, y) for a in again.aux))
    assert torch.isfinite(expected)
    loss.backward()
    assert model.aux["inception4a"].fc2.weight.grad is not None
    model.eval()
    assert isinstance(model(x), torch.Tensor)  # evaluation sees plain logits
