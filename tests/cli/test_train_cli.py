"""The train command as a user runs it, including every bad input the foundation issue lists."""
import gzip
import os
import json
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

import nnlab
from nnlab.cli.main import main as cli_main
from nnlab.engine import checkpoint
from tests.conftest import ROOT, run_cli, write_image_folder

DIGITS = str(ROOT / "configs" / "classify" / "digits_mlp.yaml")


def _config(tmp_path, **sections):
    raw = {"name": "c", "data": {"dataset": "digits"}, "model": {"name": "mlp", "hidden": [16]},
           "train": {"epochs": 1}}
    for k, v in sections.items():
        raw[k] = {**raw.get(k, {}), **v} if isinstance(v, dict) else v
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def main(*args):
    """The CLI in-process (same code path as the console script, minus interpreter start-up)."""
    import contextlib
    import io

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = cli_main(list(args))
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def _fails(result, *needles, code=2):
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    for n in needles:
        assert n in result.stderr, result.stderr


def test_train_prints_accuracy_and_run_dir(tmp_path):
    r = run_cli("train", DIGITS, "--train.epochs=3", "--runs", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "test accuracy:" in r.stdout and f"run directory: {tmp_path}/classify/digits_mlp-1" in r.stdout
    assert "epoch 3/3" in r.stderr
    saved = yaml.safe_load((tmp_path / "classify" / "digits_mlp-1" / "config.yaml").read_text())
    assert saved["train"]["epochs"] == 3 and saved["model"]["hidden"] == [256, 128]


def test_override_values_with_spaces_and_extend_overrides(tmp_path):
    r = main("train", DIGITS, "--model.hidden=[16, 8]", "--train.epochs=1", "--runs", str(tmp_path), "--quiet")
    assert r.returncode == 0, r.stderr
    first = tmp_path / "classify" / "digits_mlp-1"
    assert yaml.safe_load((first / "config.yaml").read_text())["model"]["hidden"] == [16, 8]
    r = main("train", "--extend", str(first), "--train.epochs=2", "--optim.lr_mult={features.0: 0.5}",
             "--runs", str(tmp_path), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "parameter groups changed" in r.stderr  # the optimizer state cannot carry over: said, not crashed
    saved = yaml.safe_load((tmp_path / "classify" / "digits_mlp-2" / "config.yaml").read_text())
    assert saved["optim"]["lr_mult"] == {"features.0": 0.5} and saved["train"]["epochs"] == 2
    _fails(run_cli("runs", "--train.epochs=2"), "unrecognized arguments: --train.epochs=2")


@pytest.mark.parametrize("args, needles", [
    (["missing.yaml"], ["config file not found: missing.yaml"]),
    ([DIGITS, "--train.epoch=3"], ["unknown config key 'train.epoch'"]),
    ([DIGITS, "--train.epochs=many"], ["config key 'train.epochs' got 'many'"]),
    ([DIGITS, "--optim.lr=-1"], ["config key 'optim.lr' must be positive"]),
    ([DIGITS, "--train.batch_size=0"], ["train.batch_size"]),
    ([DIGITS, "--model.name=resnet9000"], ["unknown model 'resnet9000'", "Valid names:"]),
    ([DIGITS, "--data.dataset=mnist", "--data.path=/nonexistent/mnist"], ["dataset path not found"]),
    (["--resume", "/tmp"], ["/tmp is not an nnlab run directory"]),
])
def test_bad_input_is_one_clear_message(tmp_path, args, needles):
    r = main("train", *args, "--runs", str(tmp_path))
    _fails(r, *needles)
    assert not (tmp_path / "classify").exists()  # nothing started


def test_folder_without_images_and_corrupt_jpeg(tmp_path):
    empty = tmp_path / "empty"
    (empty / "cat").mkdir(parents=True)
    (empty / "dog").mkdir()
    r = main("train", _config(tmp_path, data={"dataset": "folder", "path": str(empty)}), "--runs", str(tmp_path))
    _fails(r, "holds no images")
    root = write_image_folder(tmp_path / "imgs", {"dark": 20, "bright": 20})
    (root / "dark" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")
    r = main("train", _config(tmp_path, data={"dataset": "folder", "path": str(root)}), "--runs", str(tmp_path),
             "--quiet")
    assert r.returncode == 0, r.stderr
    assert "skipped 1 unreadable image" in r.stderr and "broken.jpg" in r.stderr


def test_truncated_idx_and_label_mismatch(tmp_path, mnist_dir):
    bad = tmp_path / "mnist"
    bad.mkdir()
    for f in mnist_dir.glob("t10k-*.gz"):
        (bad / f.name).write_bytes(f.read_bytes())
    (bad / "train-labels-idx1-ubyte.gz").write_bytes((mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes())
    raw = gzip.decompress((mnist_dir / "t10k-images-idx3-ubyte.gz").read_bytes())
    (bad / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw[:-784 * 10]))
    cfg = _config(tmp_path, data={"dataset": "mnist", "path": str(bad)})
    _fails(main("train", cfg, "--runs", str(tmp_path)), "is truncated")
    header = bytearray(raw[:16])
    header[4:8] = (9990).to_bytes(4, "big")
    (bad / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(bytes(header) + raw[16:-784 * 10]))
    _fails(main("train", cfg, "--runs", str(tmp_path)), "9990 images but 10000 labels")


def test_nan_loss_exits_nonzero_with_message(tmp_path):
    r = main("train", DIGITS, "--optim.lr=1e6", "--runs", str(tmp_path))
    _fails(r, "loss became nan", "Lower the learning rate", code=1)
    meta = json.loads((tmp_path / "classify" / "digits_mlp-1" / "meta.json").read_text())
    assert meta["status"] == "failed"


def test_ctrl_c_mid_epoch_then_resume_is_exact(tmp_path):
    cfg = _config(tmp_path, data={"dataset": "digits", "train_size": 400}, train={"epochs": 6, "batch_size": 1})
    reference = nnlab.fit(cfg, runs_root=tmp_path / "a", progress=False)
    proc = subprocess.Popen([sys.executable, "-m", "nnlab", "train", cfg, "--quiet", "--runs", str(tmp_path / "b")],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    run = tmp_path / "b" / "classify" / "c-1"
    deadline = time.time() + 120
    while not ((run / "metrics.csv").exists() and len((run / "metrics.csv").read_text().splitlines()) >= 2) \
            and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted at epoch" in err and "Resume with: nnlab train --resume" in err and "Traceback" not in err
    meta = json.loads((run / "meta.json").read_text())
    assert meta["status"] == "interrupted" and meta["epochs_done"] < 6
    resumed = nnlab.fit(None, resume=run, progress=False)
    assert resumed.meta["status"] == "completed"
    a = checkpoint.load(reference.dir / "checkpoints" / "last.pt")["model"]
    b = checkpoint.load(run / "checkpoints" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    rows = [_without_time(p / "metrics.csv") for p in (reference.dir, run)]
    assert len(rows[0]) == 6 and rows[0] == rows[1]  # the interrupted epoch's loss and accuracy too


def _without_time(path):
    import csv

    return [{k: v for k, v in r.items() if k != "time"} for r in csv.DictReader(path.open())]
