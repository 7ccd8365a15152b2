"""DIGITS segmentation folders: indexed / grayscale / RGB + colour-map masks, nearest-neighbour resizing, the
bad-input messages, and the overlay grid."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nnlab.data.masks import overlay_grid, read_colormap, read_mask_folder, semantic_from_instances, voc_palette
from nnlab.errors import DataError

PALETTE = [0, 0, 0, 200, 0, 0, 0, 200, 0] + [0] * (253 * 3)  # 3 classes, padded to 256 colours as VOC's


def _ids(h=8, w=10, seed=0):
    ids = np.zeros((h, w), np.uint8)
    ids[2:6, 3:8] = 1
    ids[0, :3] = 2
    ids[7, 9] = 255
    return ids


def _write(root: Path, name: str, ids: np.ndarray, kind: str = "P", size=None, palette=PALETTE) -> None:
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(exist_ok=True)
    h, w = size or ids.shape
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(root / "images" / f"{name}.jpg")
    if kind == "P":
        img = Image.fromarray(ids, mode="P")
        img.putpalette(palette)
    elif kind == "L":
        img = Image.fromarray(ids, mode="L")
    else:
        rgb = np.array(voc_palette(256), np.uint8)[ids]
        rgb[ids == 255] = 255
        img = Image.fromarray(rgb, mode="RGB")
    img.save(root / "labels" / f"{name}.png")


def test_indexed_masks_read_with_their_palette(tmp_path):
    _write(tmp_path, "a", _ids())
    _write(tmp_path, "b", _ids()[::-1].copy())
    ds = read_mask_folder(tmp_path)
    assert ds.images.shape == (2, 3, 8, 10) and ds.images.dtype == torch.uint8
    assert ds.masks.shape == (2, 8, 10) and torch.equal(ds.masks[0], torch.from_numpy(_ids()))
    assert ds.classes == ["class0", "class1", "class2"] and ds.palette[1] == (200, 0, 0)
    assert [Path(f).name for f in ds.files] == ["a.jpg", "b.jpg"]


def test_masks_are_resized_with_the_nearest_neighbour(tmp_path):
    _write(tmp_path, "a", _ids())
    ds = read_mask_folder(tmp_path, size=(16, 20))
    assert ds.images.shape == (1, 3, 16, 20)
    assert set(ds.masks.unique().tolist()) == {0, 1, 2, 255}  # no blended ids at the edges
    assert torch.equal(ds.masks[0, ::2, ::2], torch.from_numpy(_ids()))


def test_rgb_masks_with_a_colour_map_and_class_names(tmp_path):
    _write(tmp_path, "a", _ids(), kind="RGB")
    (tmp_path / "colormap.txt").write_text("# R G B name\n0 0 0 background\n128 0 0 car\n0 128 0 road\n")
    ds = read_mask_folder(tmp_path)
    assert ds.classes == ["background", "car", "road"]
    assert torch.equal(ds.masks[0], torch.from_numpy(_ids()))


def test_grayscale_masks_and_classes_file(tmp_path):
    _write(tmp_path, "a", _ids(), kind="L")
    (tmp_path / "classes.txt").write_text("bg\nthing\nother\n")
    assert read_mask_folder(tmp_path).classes == ["bg", "thing", "other"]


def _rgb_without_colour_map(root):
    _write(root, "a", _ids(), kind="RGB")


def _rgb_with_unknown_colour(root):
    _write(root, "a", _ids(), kind="RGB")
    (root / "colormap.txt").write_text("0 0 0\n128 0 0\n")


def _mask_of_another_size(root):
    _write(root, "a", _ids(), size=(9, 10))


def _index_outside_the_palette(root):
    ids = _ids()
    ids[ids == 255] = 0
    ids[1, 1] = 9
    _write(root, "a", ids, palette=PALETTE[:15])  # 5 colours (PNG stores 4-bit indices, so 9 survives)


def _value_beyond_the_class_list(root):
    _write(root, "a", _ids(), kind="L")
    (root / "classes.txt").write_text("bg\nthing\n")


def _image_without_a_mask(root):
    _write(root, "a", _ids())
    Image.new("RGB", (10, 8)).save(root / "images" / "lonely.png")


BAD = [
    (_rgb_without_colour_map, r"a\.png is RGB: pass a colour map"),
    (_rgb_with_unknown_colour, r"a\.png has colour \(0, 128, 0\)"),
    (_mask_of_another_size, r"mask .*a\.png is 10x8 but its image .*a\.jpg is 10x9"),
    (_index_outside_the_palette, r"a\.png uses index 9 but its palette has 5 colours"),
    (_value_beyond_the_class_list, r"a\.png has label value 2 but there are only 2 classes"),
    (_image_without_a_mask, r"lonely\.png has no mask"),
]


@pytest.mark.parametrize("setup, message", BAD, ids=[f.__name__.strip("_") for f, _ in BAD])
def test_bad_input_is_a_data_error_naming_the_file(tmp_path, setup, message):
    setup(tmp_path)
    with pytest.raises(DataError, match=message):
        read_mask_folder(tmp_path)


def test_bad_colour_map_line(tmp_path):
    (tmp_path / "cm.txt").write_text("0 0 0\n300 1\n")
    with pytest.raises(DataError, match=r"cm\.txt, line 2"):
        read_colormap(tmp_path / "cm.txt")


def test_voc_palette_is_the_pascal_colour_map():
    assert voc_palette(4) == [(0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0)]
    assert voc_palette(256)[255] == (224, 224, 192)


def test_overlay_grid_blends_classes_and_leaves_background(tmp_path):
    images = torch.full((3, 3, 8, 10), 100, dtype=torch.uint8)
    masks = torch.from_numpy(np.stack([_ids()] * 3))
    out = overlay_grid(images, masks, tmp_path / "grid.png", ncols=2, alpha=1.0)
    grid = np.asarray(Image.open(out))
    assert grid.shape == (2 * 8 + 3 * 2, 2 * 10 + 3 * 2, 3)  # 2 rows, 2 columns, 2-pixel padding
    tile = grid[2:10, 2:12]
    assert tuple(tile[0, 5]) == (100, 100, 100) and tuple(tile[3, 4]) == (128, 0, 0)
    assert tuple(tile[7, 9]) == (255, 255, 255)  # ignore


def test_overlay_grid_refuses_mismatched_masks(tmp_path):
    with pytest.raises(DataError, match="one \\(H, W\\) mask per image"):
        overlay_grid(torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.zeros(2, 4, 4), tmp_path / "g.png")


def test_semantic_from_instances_paints_label_plus_one_over_background():
    masks = torch.zeros(2, 4, 5, dtype=torch.uint8)
    masks[0, :2, :2], masks[1, 1:3, 1:4] = 1, 1  # overlapping: the later instance wins
    empty = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64),
             "masks": torch.zeros(0, 4, 5, dtype=torch.uint8)}
    out = semantic_from_instances([{"labels": torch.tensor([3, 0]), "masks": masks}, empty], (4, 5))
    assert out.dtype == torch.uint8 and out.shape == (2, 4, 5) and not out[1].any()
    assert out[0, 0, 0] == 4 and out[0, 1, 1] == 1 and out[0, 3, 4] == 0 and set(out[0].unique().tolist()) == {0, 1, 4}
