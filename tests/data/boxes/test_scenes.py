import numpy as np
import pytest
import torch
from torchvision.ops import box_iou

from nnlab.data.boxes import read
from nnlab.data.boxes.dataset import load_box_folder
from nnlab.data.boxes.scenes import SEMANTIC_CLASSES, digit_source, generate_scenes, write_scenes
from nnlab.errors import DataError



@pytest.fixture(scope="module")
def small():
    from sklearn.datasets import load_digits

    d = load_digits()  # the fallback source: tests never need MNIST
    src = (np.round(d.images * (255 / 16)).astype(np.uint8), d.target, "sklearn-digits")
    return generate_scenes(12, size=48, digits=(1, 4), scale=(2.0, 4.0), clutter=True, seed=3, source=src), src


def test_boxes_masks_and_semantics_agree(small):
    scenes, _ = small
    assert scenes.images.shape == (12, 3, 48, 48) and scenes.images.dtype == torch.uint8
    for i, t in enumerate(scenes.targets):
        masks = t["masks"].bool()
        assert len(masks) == len(t["boxes"]) == len(t["labels"]) >= 1
        for j, (mask, box) in enumerate(zip(masks, t["boxes"].long().tolist())):
            ys, xs = mask.nonzero(as_tuple=True)
            assert box == [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]  # the tight box
            assert (scenes.instance[i][mask] == j + 1).all()
            assert (scenes.semantic[i][mask] == t["labels"][j] + 1).all()
        assert (scenes.instance[i] > 0).sum() == masks.sum()  # every labelled pixel belongs to one instance


def test_seeded_and_overlap_bounded(small):
    scenes, src = small
    again = generate_scenes(12, size=48, digits=(1, 4), scale=(2.0, 4.0), clutter=True, seed=3, source=src)
    assert torch.equal(again.images, scenes.images)
    other = generate_scenes(12, size=48, digits=(1, 4), scale=(2.0, 4.0), clutter=True, seed=4, source=src)
    assert not torch.equal(other.images, scenes.images)
    for t in scenes.targets:
        iou = box_iou(t["boxes"], t["boxes"]).fill_diagonal_(0)
        assert (iou < 0.5).all()


@pytest.mark.parametrize("fmt", ["voc", "yolo"])
def test_written_folder_reads_back(tmp_path, small, fmt):
    scenes, _ = small
    out = write_scenes(scenes, tmp_path / "s", fmt)
    back = read(out)
    assert back.classes == [str(d) for d in range(10)] and len(back.records) == 12
    for r, t in zip(sorted(back.records, key=lambda r: r.file), scenes.targets):
        np.testing.assert_array_equal(r.boxes, t["boxes"].numpy())
    assert (out / "masks/semantic_classes.txt").read_text().split() == SEMANTIC_CLASSES
    ds = load_box_folder(out, (48, 48))  # instance PNGs come back as masks
    assert all(torch.equal(a["masks"], b["masks"]) for a, b in zip(ds.targets, scenes.targets))


def test_dataset_and_bad_arguments(small):
    scenes, src = small
    ds = scenes.dataset()
    x, targets = ds.batch([0, 1], [0.5] * 3, [0.25] * 3)
    assert x.shape == (2, 3, 48, 48) and x.dtype == torch.float32 and len(targets) == 2
    assert len(generate_scenes(2, size=32, digits=(0, 0), source=src).targets[0]["boxes"]) == 0  # negatives
    with pytest.raises(DataError, match="scenes need"):
        generate_scenes(0, source=src)


@pytest.mark.slow
def test_mnist_scenes(mnist_dir):
    scenes = generate_scenes(50, size=64, digits=(1, 3), scale=(0.5, 1.5), seed=0, mnist_path=mnist_dir)
    assert scenes.source == "mnist" and sum(len(t["labels"]) for t in scenes.targets) >= 50
