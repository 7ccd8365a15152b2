import numpy as np
import pytest
import torch

from nnlab.data import sources
from nnlab.data.dataset import ImageDataset
from nnlab.data.masks import MaskDataset
from nnlab.data.splits import fraction_splits, make_splits
from nnlab.errors import DataError


def test_fractions_are_stratified_disjoint_and_seeded():
    raw = sources.load_splits("digits")
    s = make_splits(raw, val_fraction=0.1, test_fraction=0.2, train_size=None, seed=0)
    total = len(s["train"]) + len(s["val"]) + len(s["test"])
    assert total == 1797 and abs(len(s["test"]) - 0.2 * 1797) <= 1
    full = raw["train"].class_counts()
    test_ratio = np.array(s["test"].class_counts()) / np.array(full)
    assert np.allclose(test_ratio, 0.2, atol=0.02)  # stratified
    again = make_splits(raw, 0.1, 0.2, None, seed=0)
    assert torch.equal(again["val"].images, s["val"].images)
    other = make_splits(raw, 0.1, 0.2, None, seed=1)
    assert not torch.equal(other["val"].images, s["val"].images)


def test_train_size_subset_keeps_fixed_test():
    raw = sources.load_splits("digits")
    raw = {"train": raw["train"].subset(torch.arange(1000)), "test": raw["train"].subset(torch.arange(1000, 1797))}
    s = make_splits(raw, 0.0, 0.2, train_size=100, seed=0)
    assert len(s["train"]) == 100 and len(s["test"]) == 797 and "val" not in s
    assert min(s["train"].class_counts()) >= 8


def test_select_classes_keeps_and_relabels():
    import torch
    from nnlab.data.dataset import ImageDataset
    from nnlab.data.splits import select_classes
    from nnlab.errors import DataError
    import pytest

    ds = ImageDataset(torch.arange(6, dtype=torch.uint8).view(6, 1, 1, 1), torch.tensor([0, 1, 2, 0, 1, 2]),
                      ["a", "b", "c"])
    out = select_classes({"train": ds, "test": ds}, ["c", "a"])["test"]
    assert out.classes == ["c", "a"] and out.labels.tolist() == [1, 0, 1, 0]
    assert out.images.flatten().tolist() == [0, 2, 3, 5]
    with pytest.raises(DataError, match="data.classes.*a, b, c"):
        select_classes({"train": ds}, ["d"])


def test_one_class_training_data_is_refused():
    one = ImageDataset(torch.zeros(6, 1, 2, 2, dtype=torch.uint8), torch.ones(6, dtype=torch.int64), ["a", "b"])
    with pytest.raises(DataError, match=r"only one class \('b'\)"):
        make_splits({"train": one}, 0.1, 0.2, None, 0)


def test_fraction_splits_of_mask_data_are_random_seeded_and_disjoint():
    n = 50
    ds = MaskDataset(torch.zeros(n, 1, 2, 2, dtype=torch.uint8), torch.zeros(n, 2, 2, dtype=torch.uint8), ["a", "b"],
                     [f"f{i}" for i in range(n)])
    a = fraction_splits(ds, 0.1, 0.2, None, seed=0)
    assert [len(a[k]) for k in ("train", "val", "test")] == [36, 4, 10]
    assert sorted(sum((a[k].files for k in a), [])) == sorted(ds.files)
    assert a["test"].files == fraction_splits(ds, 0.1, 0.2, None, seed=0)["test"].files
    assert a["test"].files != fraction_splits(ds, 0.1, 0.2, None, seed=1)["test"].files
    small = fraction_splits(ds, 0.1, 0.2, 12, seed=0)
    assert len(small["train"]) == 12 and set(small["train"].files) <= set(a["train"].files)
    assert "val" not in fraction_splits(ds, 0.0, 0.2, None, seed=0)
