"""Generated segmentation scenes: seeded, every class present, masks aligned with what is drawn."""
import torch

from nnlab.data.shapes import CLASSES, make_shapes


def test_seeded_shapes_and_all_classes():
    a, b = make_shapes(30, (20, 24), seed=3), make_shapes(30, (20, 24), seed=3)
    assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
    assert a.images.shape == (30, 3, 20, 24) and a.masks.shape == (30, 20, 24) and a.masks.dtype == torch.uint8
    assert set(a.masks.unique().tolist()) == {0, 1, 2} and a.classes == CLASSES
    assert not torch.equal(a.masks, make_shapes(30, (20, 24), seed=4).masks)


def test_classes_differ_in_brightness():
    ds = make_shapes(40, (32, 32), channels=1)
    grey = ds.images[:, 0].float()
    means = [grey[ds.masks == c].mean().item() for c in range(3)]
    assert means[1] > means[0] > means[2]  # bright rectangles, mid background, dark discs: learnable
