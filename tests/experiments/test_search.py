import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
import yaml

from nnlab.errors import ConfigError, UserError
from nnlab.experiments import search as searching
from nnlab.experiments.search_space import load_space
from nnlab.experiments.common import resolve

from tests.conftest import ROOT


def _space(**extra):
    return {"optim.lr": {"type": "float", "low": 0.05, "high": 0.5, "log": True, "grid": [0.05, 0.2, 0.5]},
            "model.hidden": {"type": "categorical", "choices": [[8], [16]]}, **extra}


@pytest.mark.parametrize("space, message", [
    ({"model.widht": {"type": "int", "low": 1, "high": 4}}, "model.widht"),
    ({"train.epochz": {"type": "int", "low": 1, "high": 4}}, "train.epochz"),
    ({"optim.lr": {"type": "float", "low": 0.5, "high": 0.1}}, "empty range"),
    ({"model.hidden": {"type": "categorical", "choices": []}}, "non-empty"),
    ({"optim.lr": {"type": "float", "low": 0.1, "high": 1, "lgo": True}}, "unknown field"),
    ({"optim.lr": {"type": "float", "low": 0, "high": 1, "log": True}}, "log range"),
    ({}, "empty"),
])
def test_bad_spaces_are_rejected(tiny_config, space, message):
    with pytest.raises(ConfigError, match=message):
        load_space(space, resolve(tiny_config))


def test_grid_search_needs_grid_values_for_floats(tiny_config, tmp_path):
    space = {"optim.lr": {"type": "float", "low": 0.01, "high": 0.5}}
    with pytest.raises(ConfigError, match="grid"):
        searching.prepare(tiny_config, space, sampler="grid", out=tmp_path)


def test_grid_search_of_six_trials_runs_exactly_the_grid(tiny_config, tmp_path):
    spec = searching.prepare(tiny_config, _space(), sampler="grid", out=tmp_path, prune=False)
    assert spec.trials == 6
    study = searching.search(spec, on_trial=None)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    tried = sorted((t.params["optim.lr"], t.params["model.hidden"]) for t in done)
    assert tried == sorted((lr, h) for lr in (0.05, 0.2, 0.5) for h in ("[8]", "[16]"))
    assert all(os.path.isdir(t.user_attrs["run_dir"]) for t in done)


@pytest.mark.parametrize("url, message", [
    ("sqlite:////nonexistent-dir/x/study.db", "does not exist"),
    ("postgresql://nnlab@127.0.0.1:1/nnlab", "storage"),
    ("nosuchdb://x", "cannot open"),
])
def test_unreachable_storage_fails_fast(url, message):
    t0 = time.perf_counter()
    with pytest.raises(UserError, match=message):
        searching.open_storage(url)
    assert time.perf_counter() - t0 < 15


def test_restart_with_another_space_is_refused(tiny_config, tmp_path):
    spec = searching.prepare(tiny_config, _space(), sampler="grid", trials=1, out=tmp_path, prune=False)
    searching.search(spec, on_trial=None)
    other = searching.prepare(tiny_config, {"optim.lr": _space()["optim.lr"]}, sampler="grid", out=tmp_path)
    with pytest.raises(UserError, match="another config, space or sampler"):
        searching.search(other, on_trial=None)


@pytest.mark.slow
def test_killed_search_continues_without_repeating_finished_trials(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"name": "k", "data": {"dataset": "digits"}, "model": {"name": "mlp", "hidden": [8]},
                                   "optim": {"name": "sgd"}, "train": {"epochs": 4, "batch_size": 32}}))
    space = tmp_path / "space.yaml"
    grid = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5]  # 12 trials: the kill lands mid-search even on a fast idle machine
    space.write_text(yaml.safe_dump(_space(**{"optim.lr": {"type": "float", "low": 0.05, "high": 0.5, "grid": grid}})))
    out = tmp_path / "out"
    args = [sys.executable, "-m", "nnlab", "search", str(cfg), "--space", str(space), "--sampler", "grid",
            "--out", str(out), "--no-prune"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    storage = f"sqlite:///{out.resolve() / 'study.db'}"
    deadline = time.time() + 240
    while time.time() < deadline:  # kill it once a trial has finished
        time.sleep(0.1)
        try:
            study = optuna.load_study(study_name="k", storage=storage)
            if len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) >= 1:
                break
        except Exception:
            continue
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = optuna.load_study(study_name="k", storage=storage).get_trials()
    first = {t.number: t.params for t in before if t.state == optuna.trial.TrialState.COMPLETE}
    assert 1 <= len(first) < 2 * len(grid)
    res = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "trials already finished" in res.stdout
    after = optuna.load_study(study_name="k", storage=storage).get_trials()
    complete = [t for t in after if t.state == optuna.trial.TrialState.COMPLETE]
    assert {t.number: t.params for t in complete if t.number in first} == first  # kept, not redone
    points = sorted((t.params["optim.lr"], t.params["model.hidden"]) for t in complete)
    assert points == sorted((lr, h) for lr in grid for h in ("[8]", "[16]"))  # each exactly once
    assert (out / "trials.csv").is_file() and (out / "search_history.png").is_file()


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("NNLAB_TEST_POSTGRES"),
                    reason="set NNLAB_TEST_POSTGRES=postgresql://user:pw@host/db to test distributed search")
def test_two_workers_share_one_postgresql_study(tmp_path):
    """Optuna's distributed mode as documented: two processes, same command, same database URL."""
    url = os.environ["NNLAB_TEST_POSTGRES"]
    name = f"nnlab-test-{os.getpid()}-{int(time.time())}"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"name": "pg", "data": {"dataset": "digits"}, "model": {"name": "mlp", "hidden": [8]},
                                   "optim": {"name": "sgd"}, "train": {"epochs": 2, "batch_size": 32}}))
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"optim.lr": {"type": "float", "low": 0.01, "high": 0.5, "log": True}}))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    workers = [subprocess.Popen([sys.executable, "-m", "nnlab", "search", str(cfg), "--space", str(space),
                                 "--sampler", "random", "--trials", "6", "--no-prune", "--storage", url,
                                 "--study-name", name, "--out", str(tmp_path / f"w{i}")],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for i in range(2)]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    trials = optuna.load_study(study_name=name, storage=url).get_trials()
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert 6 <= len(complete) <= 7  # one shared count; the second worker may finish one extra trial
    assert len({t.number for t in complete}) == len(complete)
    optuna.delete_study(study_name=name, storage=url)
