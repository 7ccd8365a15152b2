import numpy as np
import pytest
from PIL import Image

from nnlab.data import sources
from nnlab.data.folder import read_folder, scan, split_folders
from nnlab.errors import DataError
from tests.conftest import write_image_folder


def test_scan_recursive_and_sorted(tmp_path):
    root = write_image_folder(tmp_path / "d", {"b": 2, "a": 3})
    (root / "a" / "nested").mkdir()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(root / "a" / "nested" / "x.jpg")
    (root / "a" / "notes.txt").write_text("not an image")
    items, classes = scan(root)
    assert classes == ["a", "b"]
    assert sum(1 for _, y in items if y == 0) == 4


def test_corrupt_image_is_skipped_and_reported(tmp_path, capsys):
    root = write_image_folder(tmp_path / "d", {"a": 3, "b": 3})
    (root / "a" / "broken.jpg").write_bytes(b"\xff\xd8garbage")
    ds = read_folder(root, 1, (8, 8), progress=False)
    assert len(ds) == 6 and len(ds.skipped) == 1 and "broken.jpg" in ds.skipped[0]
    assert "skipped 1 unreadable image" in capsys.readouterr().err


def test_empty_class_and_no_classes(tmp_path):
    root = write_image_folder(tmp_path / "d", {"a": 2})
    (root / "empty").mkdir()
    with pytest.raises(DataError, match="holds no images"):
        scan(root)
    (tmp_path / "flat").mkdir()
    with pytest.raises(DataError, match="no class subfolders"):
        scan(tmp_path / "flat")
    with pytest.raises(DataError, match="not found"):
        scan(tmp_path / "missing")


def test_split_folders_and_geometry(tmp_path):
    write_image_folder(tmp_path / "s" / "train", {"x": 4, "y": 4}, size=(6, 9), mode="RGB")
    write_image_folder(tmp_path / "s" / "test", {"x": 2, "y": 2}, size=(6, 9), mode="RGB")
    assert set(split_folders(tmp_path / "s")) == {"train", "test"}
    splits = sources.image_folder(str(tmp_path / "s"), progress=False)
    assert splits["train"].shape == (3, 6, 9) and len(splits["test"]) == 4


def test_mixed_sizes_need_image_size(tmp_path):
    root = write_image_folder(tmp_path / "d", {"a": 2}, size=(5, 5))
    write_image_folder(root, {"b": 2}, size=(7, 7))
    with pytest.raises(DataError, match="set data.image_size"):
        sources.image_folder(str(root), progress=False)
    splits = sources.image_folder(str(root), image_size=[6, 6], channels=1, progress=False)
    assert splits["train"].shape == (1, 6, 6)


def test_class_folder_or_image_linked_outside_the_dataset_is_refused(tmp_path):
    outside = write_image_folder(tmp_path / "outside", {"secret": 2}, size=(4, 4))
    root = write_image_folder(tmp_path / "data", {"a": 2}, size=(4, 4))
    (root / "b").symlink_to(outside / "secret", target_is_directory=True)
    with pytest.raises(DataError, match=r"data/b is a link to outside the folder") as e:
        scan(root)
    assert "outside" not in str(e.value).replace("to outside", "")  # the link's target is never named
    (root / "b").unlink()
    (root / "b").mkdir()
    (root / "b" / "x.png").symlink_to(next((outside / "secret").glob("*.png")))
    with pytest.raises(DataError, match=r"b/x.png is a link to outside"):
        read_folder(root, 1, (4, 4), progress=False)
    (root / "b" / "x.png").unlink()
    (root / "b" / "x.png").symlink_to(next((root / "a").glob("*.png")))  # a link inside the folder is fine
    assert len(scan(root)[0]) == 3
