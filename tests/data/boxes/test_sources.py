import pytest
import torch

from nnlab.data.boxes import BoxRecord, BoxSet, write
from nnlab.data.boxes.sources import BOX_DATASETS, load_box_splits
from nnlab.errors import DataError, UserError


def test_registry_names():
    assert BOX_DATASETS.names() == ["boxes", "pennfudan", "raccoon", "scenes"]
    with pytest.raises(UserError, match="Did you mean 'scenes'"):
        load_box_splits("scene")


def test_scenes_splits_differ(monkeypatch, tmp_path):
    monkeypatch.setenv("NNLAB_MNIST", str(tmp_path))  # no MNIST there: the sklearn fallback
    monkeypatch.chdir(tmp_path)
    splits = load_box_splits("scenes", image_size=[32, 32], n=4, n_test=2, scale=[1.0, 1.5], digits=[1, 2])
    assert len(splits["train"]) == 4 and len(splits["test"]) == 2 and splits["train"].shape == (3, 32, 32)
    assert not (splits["train"].images[:2] == splits["test"].images).all()
    with pytest.raises(DataError, match="square"):
        load_box_splits("scenes", image_size=[32, 48], n=1, n_test=1)


def test_box_folder_with_split_subfolders(tmp_path):
    from PIL import Image

    Image.new("RGB", (20, 10)).save(tmp_path / "a.png")
    boxes = BoxSet([BoxRecord("a.png", 20, 10, [[1, 1, 5, 5]], ["x"], tmp_path / "a.png")], ["x"])
    write(boxes, tmp_path / "d/train", "voc")
    write(boxes, tmp_path / "d/test", "coco")
    splits = load_box_splits("boxes", path=str(tmp_path / "d"), image_size=[20, 40])
    assert sorted(splits) == ["test", "train"] and splits["test"].targets[0]["boxes"].tolist() == [[2, 2, 10, 10]]
    with pytest.raises(DataError, match="not found"):
        load_box_splits("boxes", path=str(tmp_path / "nope"))


def test_pennfudan_people_with_instance_masks(tmp_path):
    from tests.data.test_pennfudan import _fake

    _fake(tmp_path)
    (train,) = load_box_splits("pennfudan", path=str(tmp_path), image_size=[24, 20]).values()
    assert train.classes == ["person"] and train.shape == (3, 24, 20)
    t = train.targets[0]
    assert t["labels"].tolist() == [0, 0] and t["masks"].shape == (2, 24, 20) and t["masks"].dtype == torch.uint8
    with pytest.raises(DataError, match="needs data.path"):
        load_box_splits("pennfudan")
    with pytest.raises(DataError, match="not the Penn-Fudan folder"):
        load_box_splits("pennfudan", path=str(tmp_path / "PNGImages"))
