"""nnlab data crops: crops of exactly the training images a detect run trains on (no validation or test image),
and the two-step recipe: a classifier trained on them becomes the detector's backbone."""
from pathlib import Path

import pytest
import torch

import nnlab
from nnlab.api import build_task
from nnlab.cli.crops import source_config
from nnlab.cli.main import main
from nnlab.engine.runs import RunDir, read_meta


@pytest.fixture
def scenes(tmp_path, monkeypatch):
    monkeypatch.setenv("NNLAB_MNIST", str(tmp_path / "no-mnist"))  # scikit-learn's digits: fast, always there
    monkeypatch.chdir(tmp_path)
    assert main(["data", "scenes", "--out", "sc", "--n", "12", "--size", "40", "--digits", "1-2", "--scale", "0.5-0.8",
                 "--seed", "1"]) == 0
    return tmp_path


def test_crops_come_from_the_training_split_only(scenes, capsys):
    overrides = ["--data.image_size=[40, 40]", "--data.val_fraction=0.25", "--data.test_fraction=0.25"]
    assert main(["data", "crops", "sc", "--out", "crops", "--size", "16", "--per-image", "2", *overrides]) == 0
    assert "sc: train split, 6 of 12 images" in capsys.readouterr().out
    splits = build_task(source_config("sc", overrides)).load_data(progress=False).splits
    stems = {p.stem.rsplit("_", 1)[0] for p in Path("crops").rglob("*.png")}
    assert stems <= {Path(f).stem for f in splits["train"].files}
    assert not stems & {Path(f).stem for s in ("val", "test") for f in splits[s].files}
    assert "background" in {p.name for p in Path("crops").iterdir()}


def test_test_images_and_unknown_sources_are_refused(scenes, capsys):
    assert main(["data", "crops", "sc", "--out", "c", "--split", "test"]) == 2
    assert "test images must stay unseen" in capsys.readouterr().err
    assert main(["data", "crops", "nothing-here", "--out", "c"]) == 2
    assert "neither a detect config" in capsys.readouterr().err
    assert not Path("c").exists()


@pytest.mark.slow
def test_classifier_on_crops_becomes_a_frozen_detector_backbone(scenes):
    assert main(["data", "crops", "sc", "--out", "crops", "--size", "32", "--data.image_size=[64, 64]"]) == 0
    clf = nnlab.fit({"name": "crops", "seed": 0, "data": {"dataset": "folder", "path": "crops", "image_size": [32, 32],
                                                          "channels": 3, "test_fraction": 0.1},
                     "model": {"name": "tiny", "width": 4}, "train": {"epochs": 1, "batch_size": 32}},
                    runs_root="runs", progress=False)
    det = nnlab.fit({"name": "det", "task": "detect", "seed": 0,
                     "data": {"dataset": "boxes", "path": "sc", "image_size": [64, 64]},
                     "model": {"name": "ssd", "width": 4, "backbone_weights": str(clf.dir), "freeze": ["backbone"]},
                     "train": {"epochs": 1, "batch_size": 8}}, runs_root="runs", progress=False)
    meta = read_meta(det.dir)["transfer"]
    assert meta["backbone"]["tensors"] == 60 and meta["frozen"] == ["backbone"]
    assert "classify model 'tiny'" in meta["backbone"]["source"]
    source = torch.load(RunDir(clf.dir).weights("best"), weights_only=True)["model"]
    trained = torch.load(RunDir(det.dir).weights("best"), weights_only=True)["model"]
    for k, v in trained.items():
        if k.startswith("backbone."):
            assert torch.equal(v, source[k.removeprefix("backbone.")]), k
