"""nnlab runs, and a run folder that a live process is training in (kill -9, a second --resume)."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from nnlab.cli.main import main
from nnlab.engine import runs
from tests.conftest import ROOT


def _epochs_logged(run):
    csv = run / "metrics.csv"
    return len(csv.read_text().splitlines()) - 1 if csv.exists() else 0


@pytest.mark.slow
def test_resume_while_training_refused_and_kill_9_shows_interrupted(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"name": "c", "data": {"dataset": "digits", "train_size": 150},
                                   "model": {"name": "mlp", "hidden": [8]},
                                   "train": {"epochs": 500, "batch_size": 1}}))
    proc = subprocess.Popen([sys.executable, "-m", "nnlab", "train", str(cfg), "--quiet", "--runs", str(tmp_path)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    run = tmp_path / "classify" / "c-1"
    try:
        deadline = time.time() + 60
        while _epochs_logged(run) < 2 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert _epochs_logged(run) >= 2
        before = (run / "metrics.csv").read_text()
        assert main(["train", "--resume", str(run), "--runs", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert f"is still training (process {proc.pid} holds" in err and "Traceback" not in err
        assert err.count("\n") == 1 and (run / "metrics.csv").read_text().startswith(before)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert json.loads((run / "meta.json").read_text())["status"] == "running"  # what kill -9 leaves behind
    assert main(["runs", "--runs", str(tmp_path)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "c-1" in line).split()
    state = runs.live_meta(run)
    assert row[1] == "classify" and row[3] == "interrupted"  # columns: run, task, model, status, epochs, ...
    assert row[4] == f"{state['epochs_done']}/500" and state["epochs_done"] >= 2
    assert row[6] == f"{state['best']:.4f}" and int(row[7]) == state["best_epoch"]
