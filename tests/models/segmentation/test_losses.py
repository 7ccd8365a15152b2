"""Segmentation losses against their references: F.cross_entropy, torchvision's sigmoid focal loss (two-class
case), torchmetrics' F1 (Dice) on saturated logits; the weighted sum and the ignore index."""
import pytest
import torch
import torch.nn.functional as F
from torchmetrics.classification import MulticlassF1Score
from torchvision.ops import sigmoid_focal_loss

from nnlab.errors import UserError
from nnlab.models.segmentation.losses import WeightedSum, build_segmentation_loss


def _data(k=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, k, 6, 7, generator=g)
    target = torch.randint(0, k, (2, 6, 7), generator=g)
    target[0, :2] = 255
    return logits, target


def test_cross_entropy_with_class_weights_and_ignore_index():
    logits, target = _data()
    w = [0.5, 1.0, 2.0, 3.0]
    loss = build_segmentation_loss("cross_entropy", class_weights=w)
    ref = F.cross_entropy(logits, target, weight=torch.tensor(w), ignore_index=255)
    torch.testing.assert_close(loss(logits, target), ref)


def test_focal_with_gamma_zero_is_weighted_cross_entropy():
    logits, target = _data()
    w = [0.5, 1.0, 2.0, 3.0]
    loss = build_segmentation_loss("focal", class_weights=w, gamma=0.0)
    torch.testing.assert_close(loss(logits, target), F.cross_entropy(logits, target, torch.tensor(w), ignore_index=255))


@pytest.mark.parametrize("gamma", [1.0, 2.0])
def test_two_class_focal_equals_torchvision_sigmoid_focal(gamma):
    g = torch.Generator().manual_seed(1)
    z = torch.randn(2, 5, 5, generator=g)
    target = torch.randint(0, 2, (2, 5, 5), generator=g)
    logits = torch.stack([torch.zeros_like(z), z], 1)  # softmax([0, z])[1] = sigmoid(z)
    ref = sigmoid_focal_loss(z, target.float(), alpha=-1, gamma=gamma, reduction="mean")
    torch.testing.assert_close(build_segmentation_loss("focal", gamma=gamma)(logits, target), ref)


def test_dice_on_saturated_logits_is_one_minus_torchmetrics_macro_f1():
    k = 3
    g = torch.Generator().manual_seed(2)
    pred = torch.randint(0, k, (2, 8, 8), generator=g)
    target = torch.where(torch.rand(2, 8, 8, generator=g) < 0.7, pred, torch.randint(0, k, (2, 8, 8), generator=g))
    logits = F.one_hot(pred, k).permute(0, 3, 1, 2).float() * 100
    f1 = MulticlassF1Score(k, average="macro", multidim_average="global")(pred, target)
    loss = build_segmentation_loss("dice", smooth=0.0)(logits, target)
    torch.testing.assert_close(loss, 1 - f1)


def test_dice_ignores_ignored_pixels_and_is_zero_when_perfect():
    target = torch.tensor([[[0, 1], [255, 1]]])
    logits = F.one_hot(target.clamp(max=1), 2).permute(0, 3, 1, 2).float() * 100
    logits[0, :, 1, 0] = torch.tensor([-100.0, 100.0])  # wrong on the ignored pixel: must not count
    assert build_segmentation_loss("dice", smooth=0.0)(logits, target).item() == pytest.approx(0.0, abs=1e-6)


def test_weighted_sum_by_string_and_mapping():
    logits, target = _data()
    ce = build_segmentation_loss("cross_entropy")(logits, target)
    dice = build_segmentation_loss("dice")(logits, target)
    both = build_segmentation_loss("cross_entropy+dice")
    assert isinstance(both, WeightedSum)
    torch.testing.assert_close(both(logits, target), ce + dice)
    mixed = build_segmentation_loss({"cross_entropy": 1.0, "dice": 0.5, "focal": 0.25})
    focal = build_segmentation_loss("focal")(logits, target)
    torch.testing.assert_close(mixed(logits, target), ce + 0.5 * dice + 0.25 * focal)
    assert set(mixed.parts(logits, target)) == {"cross_entropy", "dice", "focal"}


def test_unknown_loss_name_is_a_user_error():
    with pytest.raises(UserError, match="dice"):
        build_segmentation_loss("cross_entropy+dise")


def test_losses_give_gradients():
    logits, target = _data()
    logits.requires_grad_(True)
    build_segmentation_loss("cross_entropy+dice+focal")(logits, target).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
