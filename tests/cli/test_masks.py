"""nnlab data masks DIR --out grid.png: the overlay grid and the class table; bad input exits 2 with a message."""
import numpy as np
from PIL import Image

from nnlab.cli.main import main


def _folder(root, n=3):
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(n):
        Image.new("RGB", (12, 10), (90, 90, 90)).save(root / "images" / f"im{i}.png")
        ids = np.zeros((10, 12), np.uint8)
        ids[2:6, 3:9] = 1
        mask = Image.fromarray(ids, mode="P")
        mask.putpalette([0, 0, 0, 0, 0, 255] + [0] * 254 * 3)
        mask.save(root / "labels" / f"im{i}.png")


def test_data_masks_writes_the_overlay_grid(tmp_path, capsys):
    _folder(tmp_path / "ds")
    out = tmp_path / "grid.png"
    assert main(["data", "masks", str(tmp_path / "ds"), "--out", str(out), "--cols", "2"]) == 0
    printed = capsys.readouterr().out
    assert "3 images 10x12, 2 classes" in printed and "class1" in printed and "20.0%" in printed
    grid = np.asarray(Image.open(out))
    assert grid.shape == (2 + 2 * 12, 2 + 2 * 14, 3)
    assert tuple(grid[2 + 3, 2 + 4]) == (45, 45, 172)  # person pixels blended with the palette's blue


def test_data_masks_bad_input_exits_2_with_the_file(tmp_path, capsys):
    _folder(tmp_path / "ds", n=1)
    Image.new("RGB", (12, 10)).save(tmp_path / "ds" / "images" / "orphan.png")
    assert main(["data", "masks", str(tmp_path / "ds"), "--out", str(tmp_path / "g.png")]) == 2
    assert "orphan.png has no mask" in capsys.readouterr().err
