import pytest

from nnlab.data.boxes import BoxRecord, BoxSet, write
from nnlab.data.boxes.sources import BOX_DATASETS, load_box_splits
from nnlab.errors import DataError, UserError


def test_registry_names():
    assert BOX_DATASETS.names() == ["boxes", "raccoon", "scenes"]
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
