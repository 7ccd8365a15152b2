import numpy as np
import pytest
from PIL import Image

from nnlab.cli.main import main
from nnlab.data.boxes import read


@pytest.fixture
def scenes_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NNLAB_MNIST", str(tmp_path / "no-mnist"))  # the sklearn fallback: fast and always there
    monkeypatch.chdir(tmp_path)
    assert main(["data", "scenes", "--out", "sc", "--n", "6", "--size", "40", "--digits", "1-3", "--scale",
                 "2-4", "--clutter", "--format", "yolo", "--seed", "2"]) == 0
    return tmp_path / "sc"


def test_scenes_convert_check_boxes(scenes_dir, capsys):
    assert sorted(p.name for p in scenes_dir.iterdir()) == ["classes.txt", "images", "labels", "masks"]
    assert len(list((scenes_dir / "masks/instance").glob("*.png"))) == 6
    assert main(["data", "convert", str(scenes_dir), "--to", "voc", "--out", "voc"]) == 0
    np.testing.assert_array_equal(read("voc").records[0].boxes, read(scenes_dir).records[0].boxes)
    assert main(["data", "check", "voc"]) == 0
    assert "0 error(s), 0 warning(s)" in capsys.readouterr().out
    assert main(["data", "boxes", "voc", "--n", "4", "--out", "grid.png", "--size", "40"]) == 0
    assert Image.open("grid.png").size == (2 * 42 + 2, 2 * 42 + 2)


def test_check_lists_every_problem_with_file_names(scenes_dir, capsys):
    (scenes_dir / "labels/scene-00001.txt").write_text("9 0.5 0.5 0.2\n12 0.5 0.5 0.1 0.1\n0 0.5 0.5 0 0.1\n")
    (scenes_dir / "labels/scene-00002.txt").write_text("0 0.9 0.5 0.4 0.2\n")  # reaches out on the right
    (scenes_dir / "labels/ghost.txt").write_text("")  # labels without an image
    (scenes_dir / "labels/scene-00003.txt").unlink()  # an image without labels
    assert main(["data", "check", str(scenes_dir)]) == 1
    out = capsys.readouterr().out
    for text in ["scene-00001.txt, line 1: expected 5 fields", "scene-00001.txt, line 2: class id 12 is outside",
                 "scene-00001.txt, line 3: box", "zero size", "scene-00002.txt, line 1: box",
                 "reaches outside the 40x40 image", "ghost.txt: labels an image that does not exist",
                 "scene-00003.png: image without labels"]:
        assert text in out, text
    assert main(["data", "convert", str(scenes_dir), "--to", "coco", "--out", "bad"]) == 2
    assert "ghost.txt: labels an image that does not exist" in capsys.readouterr().err  # the first problem
    assert not (scenes_dir.parent / "bad").exists()


def test_bad_arguments(tmp_path, capsys):
    assert main(["data", "scenes", "--out", str(tmp_path / "x"), "--digits", "5-1"]) == 2
    assert "--digits: MIN must not exceed MAX" in capsys.readouterr().err
    assert main(["data", "check", str(tmp_path)]) == 2
    assert "holds no box labels" in capsys.readouterr().err
