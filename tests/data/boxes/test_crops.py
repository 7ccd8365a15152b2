"""Object and background crops of a box dataset (pretraining data for a detector's backbone)."""
import pytest
import torch
from PIL import Image
from torchvision.ops import box_iou

from nnlab.data.boxes.crops import BACKGROUND, CropOptions, background_regions, crop_split, object_regions, \
    write_crops
from nnlab.data.boxes.dataset import BoxDataset
from nnlab.errors import DataError


def _dataset(classes=("cat", "dog")):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (3, 3, 64, 64), generator=g, dtype=torch.uint8)
    images[2, :, :, 32:] = 114  # letterbox-like padding on the right half
    targets = [{"boxes": torch.tensor([[8.0, 8.0, 24.0, 32.0]]), "labels": torch.tensor([0])},
               {"boxes": torch.tensor([[30.0, 30.0, 60.0, 50.0], [2.0, 2.0, 14.0, 14.0]]),
                "labels": torch.tensor([1, 0])},
               {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}]
    return BoxDataset(images, targets, list(classes), ["a.jpg", "b.jpg", "c.jpg"])


def test_object_regions_are_squares_around_the_box():
    o = CropOptions(scale=(1.2, 1.2), shift=0.0)
    r = object_regions(torch.tensor([[10.0, 20.0, 30.0, 60.0]]), 3, o, torch.Generator().manual_seed(0))
    assert r.shape == (3, 4)
    torch.testing.assert_close(r[0], torch.tensor([-4.0, 16.0, 44.0, 64.0]))  # side 1.2 x 40, same centre


def test_background_regions_overlap_no_box():
    boxes = torch.tensor([[0.0, 0.0, 40.0, 40.0], [40.0, 40.0, 64.0, 64.0]])
    r = background_regions(boxes, (64, 64), 20, (8.0, 30.0), 0.1, torch.Generator().manual_seed(0))
    assert len(r) == 20 and (box_iou(r, boxes) < 0.1).all()
    sides = r[:, 2] - r[:, 0]
    assert torch.allclose(sides, r[:, 3] - r[:, 1]) and (sides >= 8 - 1e-4).all() and (sides <= 30 + 1e-4).all()
    assert (r[:, :2] >= 0).all() and (r[:, 2:] <= 64 + 1e-4).all()


def test_crops_per_object_and_background_without_flat_padding():
    images, names, files = crop_split(_dataset(), CropOptions(size=16, per_image=2))
    assert images.shape[1:] == (3, 16, 16) and images.dtype == torch.uint8 and len(images) == len(names)
    assert names.count("cat") == 4 and names.count("dog") == 2  # 2 crops per object
    assert names[:2] == ["cat", "cat"] and files[:2] == ["a.jpg", "a.jpg"]
    bg = images[[n == BACKGROUND for n in names]]
    assert len(bg) <= 6 and (bg.float().flatten(1).std(1) >= 2.0).all()  # none cut from the flat padding alone


def test_a_box_crop_holds_the_box_pixels():
    ds = _dataset()
    o = CropOptions(size=16, per_image=1, scale=(1.0, 1.0), shift=0.0)
    ds.targets[0]["boxes"] = torch.tensor([[16.0, 16.0, 32.0, 32.0]])
    images, _, _ = crop_split(ds, o)
    torch.testing.assert_close(images[0], ds.images[0, :, 16:32, 16:32], atol=1, rtol=0)


def test_written_folder_has_one_subfolder_per_class(tmp_path):
    counts = write_crops([_dataset()], tmp_path / "crops", CropOptions(size=16, per_image=2))
    assert set(counts) == {"cat", "dog", BACKGROUND} and counts["cat"] == 4
    for name, n in counts.items():
        files = sorted((tmp_path / "crops" / name).glob("*.png"))
        assert len(files) == n and Image.open(files[0]).size == (16, 16)
    with pytest.raises(DataError, match="already exists"):
        write_crops([_dataset()], tmp_path / "crops", CropOptions())


def test_bad_datasets_are_refused():
    with pytest.raises(DataError, match="class named 'background'"):
        crop_split(_dataset(("background", "dog")), CropOptions())
    ds = _dataset()
    for t in ds.targets:
        t["boxes"], t["labels"] = torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64)
    with pytest.raises(DataError, match="no boxes"):
        crop_split(ds, CropOptions())


def test_several_datasets_merge_by_class_name(tmp_path):
    o = CropOptions(size=16, per_image=2)
    one = write_crops([_dataset()], tmp_path / "one", o)
    both = write_crops([_dataset(), _dataset(("cat", "raccoon"))], tmp_path / "both", o)
    assert both["cat"] == 2 * one["cat"] and both["raccoon"] == one["dog"] and "dog" in both
    assert len(list((tmp_path / "both" / "cat").glob("*.png"))) == both["cat"]  # no name clashes
