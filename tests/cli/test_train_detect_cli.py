"""nnlab train on box folders with the bad input issue 13 lists: one message naming the file (and line), exit 2,
no run directory."""
import pytest
import yaml

from tests.cli.test_train_cli import _fails, main


@pytest.fixture
def scenes(tmp_path, monkeypatch):
    monkeypatch.setenv("NNLAB_MNIST", str(tmp_path / "no-mnist"))  # scikit-learn's digits: fast, always there
    monkeypatch.chdir(tmp_path)
    assert main("data", "scenes", "--out", "yolo", "--n", "6", "--size", "40", "--digits", "1-2", "--scale", "2-3",
                "--format", "yolo", "--seed", "1").returncode == 0
    assert main("data", "convert", "yolo", "--to", "voc", "--out", "voc").returncode == 0
    return tmp_path


def _train(folder: str):
    cfg = {"task": "detect", "name": "bad", "data": {"dataset": "boxes", "path": folder, "image_size": [40, 40]},
           "model": {"name": "hog_svm", "window": [16, 16], "cell": 4}}
    with open("bad.yaml", "w") as f:
        yaml.safe_dump(cfg, f)
    return main("train", "bad.yaml", "--runs", "runs", "--quiet")


@pytest.mark.parametrize("label, needle", [
    ("3 0.5 0.5 0.2\n", "scene-00001.txt, line 1: expected 5 fields (class cx cy w h), got 4"),
    ("12 0.5 0.5 0.2 0.2\n", "scene-00001.txt, line 1: class id 12 is outside the class list"),
    ("0 0.5 0.5 -0.2 0.2\n", "scene-00001.txt, line 1: box (24, 16, 16, 24) has negative size"),
])
def test_bad_yolo_labels(scenes, label, needle):
    (scenes / "yolo/labels/scene-00001.txt").write_text(label)
    _fails(_train("yolo"), needle)
    assert not (scenes / "runs").exists()


def test_malformed_xml_missing_image_and_empty_folder(scenes):
    (scenes / "voc/annotations/scene-00000.xml").write_text("<annotation><object>")
    _fails(_train("voc"), "scene-00000.xml, line 1: malformed XML")
    (scenes / "yolo/labels/ghost.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    _fails(_train("yolo"), "ghost.txt: labels an image that does not exist")
    (scenes / "empty").mkdir()
    _fails(_train("empty"), "empty holds no box labels")
    _fails(_train("missing"), "box dataset folder not found: 'missing'")
    assert not (scenes / "runs").exists()
