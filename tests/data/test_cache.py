import pytest
import torch

from nnlab.data import cache, sources
from nnlab.errors import DataError
from tests.conftest import write_image_folder


def test_build_and_load_roundtrip(tmp_path):
    root = write_image_folder(tmp_path / "d", {"a": 5, "b": 7}, size=(9, 9))
    splits = sources.image_folder(str(root), image_size=[8, 8], channels=1, progress=False)
    out = cache.build(splits, tmp_path / "built", source=str(root))
    loaded = cache.load(out)
    assert torch.equal(loaded["train"].images, splits["train"].images)
    assert torch.equal(loaded["train"].labels, splits["train"].labels)
    assert cache.read_manifest(out)["splits"]["train"]["class_counts"] == [5, 7]
    assert not (tmp_path / "built.partial").exists()
    with pytest.raises(DataError, match="already exists"):
        cache.build(splits, out)


def test_damaged_cache(tmp_path):
    root = write_image_folder(tmp_path / "d", {"a": 3, "b": 3})
    out = cache.build(sources.image_folder(str(root), progress=False), tmp_path / "c")
    (out / "train.u8").write_bytes(b"\0" * 10)
    with pytest.raises(DataError, match="wrong size"):
        cache.load(out)
    with pytest.raises(DataError, match="not a built dataset"):
        cache.load(tmp_path)
