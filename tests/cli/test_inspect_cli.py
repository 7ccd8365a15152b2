"""eval, predict, runs and data commands as a user runs them (in-process CLI)."""
import numpy as np
import pytest
from PIL import Image

import nnlab
from tests.cli.test_train_cli import _fails, main
from tests.conftest import write_image_folder


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    cfg = {"name": "d", "data": {"dataset": "digits"}, "model": {"name": "mlp", "hidden": [32]},
           "train": {"epochs": 3}}
    return nnlab.fit(cfg, runs_root=root, progress=False).dir


def test_eval_prints_report_and_writes_png(run_dir):
    r = main("eval", str(run_dir))
    assert r.returncode == 0, r.stderr
    assert "top-1" in r.stdout and "precision" in r.stdout and "confusion matrix" in r.stdout
    assert (run_dir / "eval" / "confusion_test.png").stat().st_size > 1000
    r = main("eval", str(run_dir), "--split", "val")
    assert r.returncode == 0 and "val: 144 images" in r.stdout


def test_predict_any_mode_and_size(run_dir, tmp_path):
    paths = []
    for i, (mode, size) in enumerate([("RGB", (40, 30)), ("L", (8, 8)), ("RGBA", (100, 100)), ("P", (9, 9))]):
        img = Image.fromarray(np.random.default_rng(i).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
        path = tmp_path / f"img{i}.{['png', 'jpg', 'bmp', 'png'][i]}"
        img.convert(mode if mode != "P" else "P").convert("RGB" if path.suffix == ".jpg" else mode).save(path)
        paths.append(str(path))
    r = main("predict", str(run_dir), *paths, "--top", "3")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("%") == 12


def test_predict_bad_image_and_not_a_run(run_dir, tmp_path):
    (tmp_path / "x.png").write_bytes(b"nope")
    _fails(main("predict", str(run_dir), str(tmp_path / "x.png")), "cannot decode image")
    _fails(main("predict", str(tmp_path), str(tmp_path / "x.png")), "not an nnlab run directory")
    _fails(main("eval", str(tmp_path)), "not an nnlab run directory")


def test_runs_table(run_dir):
    r = main("runs", "--runs", str(run_dir.parent.parent))
    assert r.returncode == 0
    line = next(l for l in r.stdout.splitlines() if str(run_dir) in l)
    assert "completed" in line and "3/3" in line and "val_acc" in line


def test_data_build_and_info(tmp_path):
    src = write_image_folder(tmp_path / "src", {"cat": 7, "dog": 3}, size=(10, 12))
    r = main("data", "build", str(src), "--out", str(tmp_path / "built"), "--size", "8x8")
    assert r.returncode == 0, r.stderr
    assert "train 10 images of 1x8x8, 2 classes" in r.stdout
    r = main("data", "info", str(tmp_path / "built"))
    assert "cat" in r.stdout and "class imbalance" in r.stdout and "fewer than 500" in r.stdout
    r = main("data", "info", str(src))
    assert "image folder" in r.stdout and "dog" in r.stdout
    _fails(main("data", "build", str(src), "--out", str(tmp_path / "built"), "--size", "8x8"), "already exists")
    _fails(main("data", "build", str(src), "--out", str(tmp_path / "b2"), "--size", "big"), "--size must look like")
    cfg = {"name": "c", "data": {"dataset": "cache", "path": str(tmp_path / "built"), "val_fraction": 0.0,
                                 "test_fraction": 0.3}, "model": {"name": "softmax"}, "train": {"epochs": 1}}
    assert nnlab.fit(cfg, runs_root=tmp_path / "runs", progress=False).meta["status"] == "completed"
