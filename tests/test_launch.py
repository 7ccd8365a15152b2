"""``nnlab train --nproc N``: what would stop every process is said once, before any process starts."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nnlab.cli.main import main
from tests.conftest import ROOT

TINY = {"task": "classify", "data": {"dataset": "digits", "train_size": 64}, "model": {"name": "mlp"},
        "train": {"epochs": 1, "batch_size": 16}}


def _config(tmp_path: Path, **overrides: object) -> str:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**TINY, **overrides}))
    return str(path)


@pytest.mark.parametrize("extra, message", [
    (["--nproc", "0"], "--nproc must be at least 1"),
    (["--nproc", "32"], "train.batch_size 16 is smaller than the 32 processes"),
    (["--nproc", "3"], "does not split evenly over 3 processes; use a multiple of 3"),
])
def test_bad_process_counts_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture, extra: list[str],
                                        message: str) -> None:
    assert main(["train", _config(tmp_path), "--runs", str(tmp_path / "runs"), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_rl_says_it_does_not_train_distributed(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cfg = _config(tmp_path, task="rl", data={}, model={"name": "qmlp"}, train={"epochs": 1, "batch_size": 8})
    assert main(["train", cfg, "--nproc", "2"]) == 2
    assert "task 'rl' does not support distributed training" in capsys.readouterr().err


def test_a_taken_port_is_named_before_launching(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["train", _config(tmp_path), "--nproc", "2", "--port", str(port)]) == 2
    assert f"port {port} on this machine is taken" in capsys.readouterr().err


@pytest.mark.slow
def test_nnlab_train_nproc_2_trains_one_run_through_torchrun(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("OMP_NUM_THREADS", None)
    out = subprocess.run([sys.executable, "-m", "nnlab", "train", _config(tmp_path), "--nproc", "2", "--quiet",
                          "--runs", str(tmp_path / "runs")], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "2 training processes, 1 threads each" in out.stderr
    assert "distributed: 2 processes (gloo), 1 threads each" in out.stderr
    assert "OMP_NUM_THREADS environment variable for each process" not in out.stderr  # torchrun's warning
    assert out.stdout.count("run directory:") == 1  # rank 0 reports
    assert len(list((tmp_path / "runs").rglob("meta.json"))) == 1
