import pytest
import torch
import torch.nn.functional as F

from nnlab.models.losses import CrossEntropy
from nnlab.regularize.mix import Mixer, box_mask, clipped_boxes, cutmix, mixup, one_hot, smooth_labels


def _batch(b=16, k=5, size=(7, 9)):
    g = torch.Generator().manual_seed(1)
    return torch.rand(b, 3, *size, generator=g), torch.randint(0, k, (b,), generator=g), k


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_label_smoothing_matches_torch(eps):
    logits, y, k = torch.randn(8, 5), torch.randint(0, 5, (8,)), 5
    ours = CrossEntropy()(logits, smooth_labels(y, k, eps))
    torch.testing.assert_close(ours, F.cross_entropy(logits, y, label_smoothing=eps))


def test_mixup_is_a_convex_combination():
    x, y, k = _batch()
    g = torch.Generator().manual_seed(0)
    xm, ym = mixup(x, one_hot(y, k), 0.4, g)
    torch.testing.assert_close(ym.sum(1), torch.ones(len(y)))
    g = torch.Generator().manual_seed(0)
    # recover lam and the partner from the same draws and check x and y use the same weights
    from nnlab.regularize.mix import _beta
    lam = _beta(0.4, len(x), g)
    perm = torch.randperm(len(x), generator=g)
    torch.testing.assert_close(xm, lam.view(-1, 1, 1, 1) * x + (1 - lam.view(-1, 1, 1, 1)) * x[perm])
    torch.testing.assert_close(ym, lam[:, None] * one_hot(y, k) + (1 - lam[:, None]) * one_hot(y[perm], k))
    assert ((lam >= 0) & (lam <= 1)).all() and xm.min() >= x.min() - 1e-6 and xm.max() <= x.max() + 1e-6


def test_cutmix_label_weight_equals_pasted_area_exactly():
    """Image i is constant i and of class i, so each mixed label must equal the histogram of where its
    pixels came from: the pasted area fraction after clipping, exactly."""
    b, h, w = 64, 7, 9
    x = torch.arange(b, dtype=torch.float32).view(-1, 1, 1, 1).expand(b, 2, h, w).clone()
    y = torch.arange(b)
    xm, ym = cutmix(x, one_hot(y, b), 1.0, torch.Generator().manual_seed(3))
    source = torch.stack([torch.bincount(xm[i, 0].long().flatten(), minlength=b) for i in range(b)]).float()
    torch.testing.assert_close(ym, source / (h * w), rtol=0, atol=1e-6)
    pasted = 1 - ym[torch.arange(b), y]
    assert 0 < pasted.max() < 1
    assert torch.equal(xm[:, 0], xm[:, 1])  # one box for all channels


def test_boxes_are_clipped_and_masks_match():
    boxes = clipped_boxes(torch.tensor([0.0, 5.0]), torch.tensor([9.0, 4.0]), torch.tensor([4.0, 2.0]),
                          torch.tensor([6.0, 2.0]), 7, 9)
    assert boxes.tolist() == [[0, 6, 2, 9], [4, 3, 6, 5]]
    m = box_mask(boxes, 7, 9)
    assert m.shape == (2, 1, 7, 9) and m[0].sum() == 2 * 3 and m[1].sum() == 4


def test_mixer_switches_between_mixup_and_cutmix():
    x, y, k = _batch()
    mixer = Mixer(mixup_alpha=0.2, cutmix_alpha=1.0, switch_prob=0.5, generator=torch.Generator().manual_seed(0))
    kinds = set()
    for _ in range(30):
        xm, _ = mixer(x, one_hot(y, k))
        same = (xm == x).all(1)  # CutMix leaves pixels outside the box untouched; mixup moves nearly all
        kinds.add("cutmix" if same.float().mean() > 0.2 else "mixup")
    assert kinds == {"cutmix", "mixup"}
    off = Mixer(mixup_alpha=1.0, prob=0.0)
    assert off(x, y)[0] is x
