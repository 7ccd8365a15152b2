import pytest
import torch

from nnlab.config import AugmentConfig
from nnlab.data.boxes.augment import BoxAugment, warp_boxes
from nnlab.errors import ConfigError

GEOMETRY = [dict(hflip=0.5), dict(vflip=0.5), dict(rot90=1.0), dict(rot90=0.7, hflip=0.5, translate=0.1),
            dict(scale=[0.6, 1.4], translate=0.2),
            dict(resized_crop=[0.3, 1.0]), dict(pad_crop=4), dict(rotate=25.0),
            dict(hflip=0.5, vflip=0.5, scale=[0.7, 1.3], translate=0.15, resized_crop=[0.4, 1.0])]


def _batch(b=8, size=32, seed=0):
    """Images with one filled white rectangle each (its box and mask) on black."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(b, 3, size, size)
    targets = []
    for i in range(b):
        x1, y1 = torch.randint(0, size // 2, (2,), generator=g).tolist()
        w, h = torch.randint(6, size // 2, (2,), generator=g).tolist()
        x[i, :, y1:y1 + h, x1:x1 + w] = 1.0
        mask = torch.zeros(1, size, size, dtype=torch.uint8)
        mask[0, y1:y1 + h, x1:x1 + w] = 1
        targets.append({"boxes": torch.tensor([[x1, y1, x1 + w, y1 + h]], dtype=torch.float32),
                        "labels": torch.tensor([i % 3]), "masks": mask})
    return x, targets


def _aug(seed=1, **ops):
    return BoxAugment(AugmentConfig(**ops), [0.0] * 3, [1.0] * 3, torch.Generator().manual_seed(seed),
                      min_visibility=0.25)


@pytest.mark.parametrize("ops", GEOMETRY)
def test_box_follows_the_rectangle_and_mask_follows_pixels(ops):
    x, targets = _batch()
    out, moved = _aug(**ops)(x, targets)
    assert out.shape == x.shape
    kept = 0
    for img, t in zip(out, moved):
        white = img[0] > 0.5
        if len(t["boxes"]) == 0:
            continue
        kept += 1
        ys, xs = white.nonzero(as_tuple=True)
        drawn = torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=torch.float32)
        assert (t["boxes"][0] - drawn).abs().max() <= 1.0  # the box stays on the rectangle (to a pixel)
        mask = t["masks"][0].bool()
        assert (mask ^ white).sum() <= 0.1 * white.sum() + 4  # the mask moves with the pixels
    assert kept >= 4


def test_half_turn_of_a_wide_image():
    x = torch.zeros(2, 3, 10, 30)
    x[:, :, 1:4, 2:9] = 1.0
    t = [{"boxes": torch.tensor([[2.0, 1, 9, 4]]), "labels": torch.tensor([0])} for _ in range(2)]
    out, moved = _aug(rot90=1.0)(x, t)  # non-square: only 180 degrees
    torch.testing.assert_close(out, x.flip(-1).flip(-2))
    assert moved[0]["boxes"].tolist() == [[21.0, 6.0, 28.0, 9.0]]


def test_flip_is_exact_and_labels_follow():
    x, targets = _batch()
    out, moved = _aug(hflip=1.0)(x, targets)
    torch.testing.assert_close(out, x.flip(-1))
    for t, m in zip(targets, moved):
        x1, y1, x2, y2 = t["boxes"][0].tolist()
        assert m["boxes"][0].tolist() == [32 - x2, y1, 32 - x1, y2]
        assert torch.equal(m["masks"], t["masks"].flip(-1)) and torch.equal(m["labels"], t["labels"])


def test_boxes_leaving_the_image_are_clipped_or_dropped():
    box = torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    shift = torch.tensor([[1.0, 0.0, 0.25], [0.0, 1.0, 0.0]])  # samples 4 pixels to the right: content moves left
    moved, visible = warp_boxes(box, shift, 32, 32)
    torch.testing.assert_close(moved, torch.tensor([[0.0, 0.0, 6.0, 10.0], [16.0, 20.0, 26.0, 30.0]]))
    torch.testing.assert_close(visible, torch.tensor([0.6, 1.0]))
    aug = _aug(translate=0.45)
    aug.min_visibility = 0.7
    x, targets = _batch(16)
    _, moved_t = aug(x, targets)
    assert any(len(t["boxes"]) == 0 and t["masks"].shape == (0, 32, 32) for t in moved_t)
    assert all(((t["boxes"] >= 0) & (t["boxes"] <= 32)).all() for t in moved_t)


def test_seeded_negatives_semantic_masks_and_refusals():
    x, targets = _batch(4)
    targets[0] = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}
    a, b = _aug(3, **GEOMETRY[-1], hue=0.1)(x, targets), _aug(3, **GEOMETRY[-1], hue=0.1)(x, targets)
    torch.testing.assert_close(a[0], b[0])
    assert a[1][0]["boxes"].shape == (0, 4)
    semantic = (x[:, 0] > 0.5).to(torch.uint8) * 3  # class 3 where the rectangle is
    out, sem = _aug(5, translate=0.3)(x, semantic)
    assert set(sem.unique().tolist()) <= {0, 3, 255} and (sem == 255).any()
    assert ((sem == 3) == (out[:, 0] > 0.5)).float().mean() > 0.97
    with pytest.raises(ConfigError, match="orientation-sensitive"):
        BoxAugment(AugmentConfig(hflip=0.5), [0.0] * 3, [1.0] * 3, orientation_sensitive=True)
    with pytest.raises(ConfigError, match="rot90.*orientation-sensitive"):
        BoxAugment(AugmentConfig(rot90=0.5), [0.0] * 3, [1.0] * 3, orientation_sensitive=True)
    out, sem = _aug(6, rot90=1.0)(x, semantic)  # quarter turns move semantic masks exactly with the pixels
    assert torch.equal(sem == 3, out[:, 0] > 0.5)


def test_build_from_config_refuses_flips_on_digit_scenes():
    from nnlab.config import DataConfig
    from nnlab.data.boxes.augment import build
    from nnlab.data.preprocess import Preprocess

    pre = Preprocess(3, 32, 32, "squash", [0.5] * 3, [0.25] * 3)
    assert build(AugmentConfig(), pre, DataConfig(dataset="folder")) is None
    assert isinstance(build(AugmentConfig(preset="imagenet"), pre, DataConfig(dataset="folder")), BoxAugment)
    with pytest.raises(ConfigError, match="orientation-sensitive"):
        build(AugmentConfig(hflip=0.5), pre, DataConfig(dataset="scenes"))
