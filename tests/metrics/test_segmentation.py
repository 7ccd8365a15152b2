"""Segmentation metrics against torchmetrics on the same random inputs; boundary IoU against SciPy's erosion."""
import numpy as np
import pytest
import torch
from scipy import ndimage
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score, MulticlassJaccardIndex
from torchmetrics.detection import PanopticQuality as TMPanopticQuality

from nnlab.metrics.segmentation import PanopticQuality, SegmentationMetrics, boundary_band


def _batches(seed, k=4, n=3, shape=(2, 9, 11)):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        target = torch.randint(0, k, shape, generator=g)
        pred = torch.where(torch.rand(shape, generator=g) < 0.6, target, torch.randint(0, k, shape, generator=g))
        target[torch.rand(shape, generator=g) < 0.1] = 255  # ignored pixels
        out.append((pred, target))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_iou_dice_accuracy_equal_torchmetrics(seed):
    k = 4
    ours = SegmentationMetrics(k)
    jac = MulticlassJaccardIndex(k, average="none", ignore_index=255)
    f1 = MulticlassF1Score(k, average="none", ignore_index=255, multidim_average="global")
    acc = MulticlassAccuracy(k, average="micro", ignore_index=255)
    for pred, target in _batches(seed, k):
        logits = torch.nn.functional.one_hot(pred, k).permute(0, 3, 1, 2).float()  # (B, K, H, W) logits work too
        ours.update(logits, target)
        jac.update(pred, target), f1.update(pred, target), acc.update(pred, target)
    r = ours.compute()
    torch.testing.assert_close(r["iou"].float(), jac.compute())
    torch.testing.assert_close(r["dice_per_class"].float(), f1.compute())
    assert r["miou"] == pytest.approx(jac.compute().mean().item(), abs=1e-6)
    assert r["dice"] == pytest.approx(f1.compute().mean().item(), abs=1e-6)
    assert r["pixel_accuracy"] == pytest.approx(acc.compute().item(), abs=1e-6)


def test_absent_class_is_nan_and_left_out_of_the_mean():
    target = torch.tensor([[[0, 0], [1, 1]]])
    m = SegmentationMetrics(3)
    m.update(target.clone(), target)
    r = m.compute()
    assert torch.isnan(r["iou"][2]) and r["miou"] == 1.0 and r["pixel_accuracy"] == 1.0


def _scipy_band(mask: np.ndarray, width: int) -> np.ndarray:
    """Reference: mask minus its binary erosion by a (2w+1)^2 square, outside the image as background."""
    eroded = ndimage.binary_erosion(mask, structure=np.ones((2 * width + 1,) * 2), border_value=0)
    return mask & ~eroded


@pytest.mark.parametrize("width", [1, 2, 3])
def test_boundary_band_equals_scipy_erosion(width):
    g = torch.Generator().manual_seed(width)
    masks = torch.rand(3, 17, 23, generator=g) < 0.7
    ours = boundary_band(masks, width)
    for m, b in zip(masks.numpy(), ours.numpy()):
        np.testing.assert_array_equal(b, _scipy_band(m, width))


def test_boundary_iou_counts_only_the_edge_band():
    target = torch.zeros(1, 40, 40, dtype=torch.long)
    target[:, 10:30, 10:30] = 1
    shifted = torch.roll(target, 1, dims=2)  # one pixel off: whole-mask IoU stays high, boundary IoU drops
    m = SegmentationMetrics(2, boundary_ratio=1 / 56.6)  # 1-pixel band
    m.update(shifted, target)
    r = m.compute()
    assert r["iou"][1] > 0.9 and r["boundary_iou_per_class"][1] < 0.6
    band_p, band_g = boundary_band(shifted == 1, 1), boundary_band(target == 1, 1)
    expected = (band_p & band_g).sum() / (band_p | band_g).sum()
    assert r["boundary_iou_per_class"][1].item() == pytest.approx(expected.item())


def _panoptic(seed, b=3, h=12, w=14):
    """Random (B, H, W, 2) maps: things 0, 1 (instances 1..3), stuff 5, 6 and void category 9 in the target."""
    g = torch.Generator().manual_seed(seed)
    cats = torch.tensor([0, 1, 5, 6, 9])
    def one(void):
        blocks = torch.randint(0, 5 if void else 4, (b, h // 2, w // 2), generator=g)
        cat = cats[blocks].repeat_interleave(2, 1).repeat_interleave(2, 2)
        inst = torch.randint(1, 4, (b, h // 2, w // 2), generator=g).repeat_interleave(2, 1).repeat_interleave(2, 2)
        return torch.stack([cat, inst], -1)
    target = one(True)
    pred = torch.where(torch.rand(b, h, w, 1, generator=g) < 0.8, target, one(False))
    return pred, target


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_panoptic_quality_equals_torchmetrics(seed):
    things, stuffs = {0, 1}, {5, 6}
    ours = PanopticQuality(things, stuffs)
    ref = TMPanopticQuality(things, stuffs, return_per_class=True, return_sq_and_rq=True,
                             allow_unknown_preds_category=True)
    ref_avg = TMPanopticQuality(things, stuffs, return_sq_and_rq=True, allow_unknown_preds_category=True)
    for s in range(2):
        pred, target = _panoptic(seed * 10 + s)
        ours.update(pred, target), ref.update(pred, target), ref_avg.update(pred, target)
    r = ours.compute()
    per_class = ref.compute().view(-1, 3).double()  # (categories, [pq, sq, rq])
    torch.testing.assert_close(torch.stack([r["pq_per_class"], r["sq_per_class"], r["rq_per_class"]], -1),
                               per_class)
    np.testing.assert_allclose([r["pq"], r["sq"], r["rq"]], ref_avg.compute().double().numpy(), rtol=1e-6)
    assert 0 < r["pq"] < 1


def test_panoptic_quality_of_a_perfect_prediction_is_one():
    _, target = _panoptic(7)
    m = PanopticQuality({0, 1}, {5, 6})
    m.update(target, target)
    assert m.compute()["pq"] == pytest.approx(1.0)
