import numpy as np
import pytest
import torch
from PIL import Image

from nnlab.data.boxes import BoxRecord, BoxSet, write
from nnlab.data.boxes.dataset import BoxDataset, load_box_folder, raccoon, resize_record
from nnlab.errors import DataError


def _folder(tmp_path):
    img = np.zeros((20, 40, 3), np.uint8)
    img[5:15, 10:30] = 255  # a white box, 20 wide and 10 high
    Image.fromarray(img).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(tmp_path / "b.png")
    boxes = BoxSet([BoxRecord("a.png", 40, 20, [[10, 5, 30, 15]], ["x"], tmp_path / "a.png"),
                    BoxRecord("b.png", 10, 10, np.zeros((0, 4)), [], tmp_path / "b.png")], ["x", "y"])
    return write(boxes, tmp_path / "yolo", "yolo")


@pytest.mark.parametrize("mode, box", [("squash", [8, 8, 24, 24]), ("letterbox", [8, 12, 24, 20])])
def test_resize_moves_boxes_with_pixels(tmp_path, mode, box):
    ds = load_box_folder(_folder(tmp_path), (32, 32), mode=mode)
    assert ds.shape == (3, 32, 32) and ds.classes == ["x", "y"] and ds.files == ["a.png", "b.png"]
    t = ds.targets[0]
    assert t["boxes"].dtype == torch.float32 and t["labels"].tolist() == [0]
    np.testing.assert_allclose(t["boxes"][0].numpy(), box)
    x1, y1, x2, y2 = box
    white = ds.images[0, 0] > 127
    assert white[y1:y2, x1:x2].all() and white.sum() == (x2 - x1) * (y2 - y1)  # the pixels are where the box is
    assert ds.targets[1]["boxes"].shape == (0, 4)  # a negative image
    if mode == "letterbox":
        assert (ds.images[0, :, :8] == 114).all()  # grey padding above


def test_box_dataset_checks_and_subset():
    images = torch.zeros(2, 3, 8, 8, dtype=torch.uint8)
    t = [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)},
         {"boxes": torch.tensor([[1.0, 1, 4, 4]]), "labels": torch.tensor([1])}]
    ds = BoxDataset(images, t, ["a", "b"], ["p", "q"])
    assert ds.subset([1]).files == ["q"] and ds.box_counts() == [0, 1]
    with pytest.raises(DataError, match="labels must lie in 0..0"):
        BoxDataset(images, t, ["a"], ["p", "q"])
    with pytest.raises(DataError, match="unknown box resize mode"):
        resize_record(Image.new("RGB", (4, 4)), BoxRecord("p", 4, 4), 8, 8, "crop")


def test_tensor_loader_batches_boxes_with_box_augment():
    from nnlab.config import AugmentConfig
    from nnlab.data.boxes.augment import BoxAugment
    from nnlab.data.loader import TensorLoader
    from nnlab.data.preprocess import Preprocess

    images = torch.zeros(5, 3, 16, 16, dtype=torch.uint8)
    targets = [{"boxes": torch.tensor([[i, 0.0, i + 4, 4]]), "labels": torch.tensor([i % 2])} for i in range(5)]
    ds = BoxDataset(images, targets, ["a", "b"], [str(i) for i in range(5)])
    pre = Preprocess(3, 16, 16, "squash", [0.5] * 3, [0.25] * 3)
    aug = BoxAugment(AugmentConfig(hflip=1.0), pre.mean, pre.std)
    batches = list(TensorLoader(ds, pre, batch_size=2, shuffle=True, seed=1, transform=aug))
    assert [len(t) for _, t in batches] == [2, 2, 1] and batches[0][0].shape == (2, 3, 16, 16)
    seen = sorted(float(t["boxes"][0, 2]) for _, ts in batches for t in ts)
    assert seen == [12.0, 13.0, 14.0, 15.0, 16.0]  # every image once, flipped: x2 = 16 - x1


@pytest.mark.slow
def test_raccoon_splits():
    from tests.conftest import shared_dataset

    splits = raccoon(shared_dataset("raccoon"), size=(64, 64))
    assert [len(splits["train"]), len(splits["test"])] == [160, 40]
    assert sum(splits["train"].box_counts()) == 173 and sum(splits["test"].box_counts()) == 44
    assert not set(splits["train"].files) & set(splits["test"].files)
