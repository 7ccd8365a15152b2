"""Run directories and the training lock (one process per run folder; stale locks of dead processes)."""
import os
import subprocess
import sys

import pytest
import torch

from nnlab.engine import checkpoint, runs
from nnlab.errors import UserError


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_lock_is_exclusive_and_released(tmp_path):
    with runs.RunLock(tmp_path) as lock:
        assert (tmp_path / runs.LOCK).read_text().strip() == str(os.getpid())
        assert runs.lock_holder(tmp_path) == os.getpid() and lock.stale_pid is None
        with pytest.raises(UserError, match=f"still training \\(process {os.getpid()} holds"):
            with runs.RunLock(tmp_path):
                pass
        with pytest.raises(UserError, match="still training"):
            runs.check_not_training(tmp_path)
    assert not (tmp_path / runs.LOCK).exists() and runs.lock_holder(tmp_path) is None
    runs.check_not_training(tmp_path)  # free again
    with runs.RunLock(tmp_path):  # and can be taken again
        pass


def test_stale_lock_of_a_dead_process_is_reported_and_taken_over(tmp_path, capsys):
    dead = _dead_pid()
    (tmp_path / runs.LOCK).write_text(f"{dead}\n")
    assert runs.lock_holder(tmp_path) is None  # a file alone is not a live holder
    with runs.RunLock(tmp_path) as lock:
        assert lock.stale_pid == dead
        assert (tmp_path / runs.LOCK).read_text().strip() == str(os.getpid())
    err = capsys.readouterr().err
    assert f"left by process {dead}, which is no longer running" in err


def _run(tmp_path, status, state=None):
    run = tmp_path / "r-1"
    run.mkdir()
    runs.update_meta(run, status=status, epochs=6, epochs_done=0, best=None)
    if state is not None:
        checkpoint.save({"model": {"w": torch.zeros(1)}, "train_state": state}, run / "checkpoints" / "last.pt")
    return run


def test_running_without_holder_is_interrupted_at_last_checkpoint(tmp_path):
    run = _run(tmp_path, "running", {"epoch": 3, "best": 0.75, "best_epoch": 2, "batch": 0})
    meta = runs.live_meta(run)
    assert (meta["status"], meta["epochs_done"], meta["best"], meta["best_epoch"]) == ("interrupted", 3, 0.75, 2)
    with runs.RunLock(run):  # a live holder: really running, meta.json as written
        assert runs.live_meta(run)["status"] == "running"
    assert runs.read_meta(run)["status"] == "running"  # reading never rewrites meta.json


def test_interrupted_without_checkpoint_and_finished_runs_unchanged(tmp_path):
    meta = runs.live_meta(_run(tmp_path, "running"))
    assert meta["status"] == "interrupted" and meta["epochs_done"] == 0 and meta["best"] is None
    other = tmp_path / "o"
    other.mkdir()
    runs.update_meta(other, status="completed", epochs_done=6)
    assert runs.live_meta(other)["status"] == "completed"
