"""Penn-Fudan: a synthetic folder in its layout (always), and the real one from ../shared (slow, skipped when
absent): semantic masks, instance targets in the detection conventions, bad input."""
import numpy as np
import pytest
import torch
from PIL import Image

from nnlab.data.pennfudan import read_pennfudan
from nnlab.errors import DataError
from tests.conftest import shared_dataset


def _fake(root, boxes=((2, 3, 5, 8), (7, 2, 10, 6)), mask_size=(12, 10)):
    """One 10x12 image with people drawn exactly inside their (1-based inclusive) boxes."""
    for d in ("PNGImages", "PedMasks", "Annotation"):
        (root / d).mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (10, 12), (50, 60, 70)).save(root / "PNGImages" / "FudanPed00001.png")
    ids = np.zeros(mask_size, np.uint8)
    lines = []
    for k, (x0, y0, x1, y1) in enumerate(boxes, 1):
        ids[y0 - 1: y1, x0 - 1: x1] = k
        lines.append(f'Bounding box for object {k} "PASpersonWalking" (Xmin, Ymin) - (Xmax, Ymax) : '
                     f"({x0}, {y0}) - ({x1}, {y1})")
    Image.fromarray(ids, mode="L").save(root / "PedMasks" / "FudanPed00001_mask.png")
    (root / "Annotation" / "FudanPed00001.txt").write_text("# Compatible with PASCAL Annotation Version 1.00\n"
                                                           + "\n".join(lines) + "\n")


def test_synthetic_pennfudan_targets_follow_the_conventions(tmp_path):
    _fake(tmp_path)
    ds = read_pennfudan(tmp_path, size=None)
    assert ds.images.shape == (1, 3, 12, 10) and ds.classes == ["background", "person"]
    t = ds.targets[0]
    assert t["boxes"].dtype == torch.float32 and t["labels"].tolist() == [0, 0]
    assert t["boxes"].tolist() == [[1, 2, 5, 8], [6, 1, 10, 6]]  # pixel edges, xyxy
    assert t["masks"].shape == (2, 12, 10) and t["masks"].dtype == torch.uint8
    for box, m in zip(t["boxes"], t["masks"]):  # each mask fills its box exactly
        ys, xs = torch.nonzero(m, as_tuple=True)
        assert [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1] == box.int().tolist()
    assert torch.equal(ds.masks[0], t["masks"].amax(0))  # semantic person = union of the instances


def test_boxes_scale_with_the_stored_size(tmp_path):
    _fake(tmp_path)
    ds = read_pennfudan(tmp_path, size=(24, 30))
    assert ds.targets[0]["boxes"][0].tolist() == [3.0, 4.0, 15.0, 16.0]
    assert ds.masks.shape == (1, 24, 30) and ds.targets[0]["masks"].shape == (2, 24, 30)


def test_a_person_too_small_for_the_stored_size_keeps_its_box(tmp_path):
    _fake(tmp_path, boxes=((2, 3, 5, 8), (8, 11, 8, 11)))  # the second person is one pixel
    ds = read_pennfudan(tmp_path, size=(3, 3))  # nearest-neighbour resizing drops that pixel
    t = ds.targets[0]
    assert len(t["boxes"]) == 2 and t["masks"].shape == (2, 3, 3) and t["masks"][1].sum() == 0


def test_mismatched_mask_and_box_count_are_data_errors(tmp_path):
    _fake(tmp_path, mask_size=(11, 10))
    with pytest.raises(DataError, match=r"FudanPed00001_mask\.png is 10x11 but .*FudanPed00001\.png is 10x12"):
        read_pennfudan(tmp_path)
    (tmp_path / "PedMasks" / "FudanPed00001_mask.png").unlink()
    with pytest.raises(DataError, match=r"FudanPed00001\.png has no mask"):
        read_pennfudan(tmp_path)
    with pytest.raises(DataError, match="not the Penn-Fudan folder"):
        read_pennfudan(tmp_path / "PNGImages")


@pytest.mark.slow
def test_real_pennfudan():
    root = shared_dataset("pennfudanped")
    ds = read_pennfudan(root, size=(96, 96), limit=12)
    assert ds.images.shape == (12, 3, 96, 96) and ds.masks.shape == (12, 96, 96)
    assert set(ds.masks.unique().tolist()) == {0, 1}
    for t in ds.targets:
        n = len(t["labels"])
        assert n >= 1 and t["boxes"].shape == (n, 4) and t["masks"].shape == (n, 96, 96)
        assert (t["boxes"][:, 2:] > t["boxes"][:, :2]).all()
        assert (t["boxes"] >= 0).all() and (t["boxes"] <= 96).all()
        for box, m in zip(t["boxes"], t["masks"]):  # the mask's extent agrees with the annotated box
            ys, xs = torch.nonzero(m, as_tuple=True)
            assert abs(xs.min() - box[0]) <= 6 and abs(ys.max() + 1 - box[3]) <= 6
