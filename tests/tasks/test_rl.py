import csv

import pytest
import torch

import nnlab
from nnlab.cli.main import main
from nnlab.errors import UserError

TINY = {"task": "rl", "seed": 0, "model": {"name": "qmlp", "hidden": [8]}, "optim": {"name": "adam", "lr": 0.01},
        "train": {"epochs": 2, "batch_size": 8},
        "rl": {"env": "CartPole-v1", "steps_per_epoch": 40, "train_frequency": 4, "learning_starts": 16,
               "buffer_size": 64, "target_update": 3, "eval_episodes": 2, "test_episodes": 2,
               "max_episode_steps": 40}}


def _with(**rl) -> dict:
    return {**TINY, "rl": {**TINY["rl"], **rl}}


@pytest.mark.parametrize("cfg, match", [
    (_with(env="CartPol-v1"), r"unknown environment 'CartPol-v1'.*Did you mean 'CartPole-v1'.*Available"),
    (_with(env="Pendulum-v1"), "continuous action space"),
    (_with(gamma=1.5), r"rl.gamma' must be in \[0, 1\]"),
    (_with(buffer_size=4), r"train.batch_size \(8\).*rl.buffer_size \(4\)"),
    (_with(algorithm="value_iteration"), "nnlab rl solve"),
    ({**TINY, "model": {"name": "policy_mlp"}}, "trains model.name qmlp or qcnn"),
    ({**TINY, "model": {"name": "qcnn"}}, r"qcnn reads image observations.*this environment's are \[4\]"),
    ({**TINY, "model": {"name": "mlp"}}, "unknown rl model 'mlp'. Did you mean 'qmlp'"),
])
def test_bad_input_is_one_message_before_the_run(cfg, match, tmp_path):
    with pytest.raises(UserError, match=match):
        nnlab.fit(cfg, runs_root=tmp_path, progress=False)
    assert not (tmp_path / "rl").exists()


def test_dqn_learns_from_the_pixels_of_a_gridworld(tmp_path):
    world = {"size": [2, 3], "walls": [], "goals": [[0, 2]], "pits": [], "start": [1, 0], "slip": 0.0, "pixels": True}
    cfg = {**TINY, "model": {"name": "qcnn", "channels": [4], "hidden": 8},
           "rl": {**TINY["rl"], "env": "gridworld", "env_args": world, "max_episode_steps": 10}}
    run = nnlab.fit(cfg, runs_root=tmp_path, progress=False)
    assert run.meta["obs_shape"] == [3, 2, 3] and run.meta["obs_size"] == 18
    from nnlab.inference import load_run

    assert load_run(run.dir).model.online.obs_shape == (3, 2, 3)  # rebuilt from meta.json
    assert run.test["return"] <= 1.0 and run.test["length"] <= 10


def test_training_a_tabular_config_points_at_rl_solve(capsys):
    assert main(["train", "configs/rl/frozenlake_vi.yaml"]) == 2
    assert "nnlab rl solve" in capsys.readouterr().err


def test_dqn_on_discrete_observations_one_hot(tmp_path):
    cfg = {**TINY, "rl": {**TINY["rl"], "env": "FrozenLake-v1", "max_episode_steps": 20}}
    run = nnlab.fit(cfg, runs_root=tmp_path, progress=False)
    assert run.meta["obs_size"] == 16 and run.meta["discrete_obs"] and 0.0 <= run.test["return"] <= 1.0


def _returns(run_dir) -> list[tuple[str, ...]]:
    with open(run_dir / "metrics.csv") as f:
        return [tuple(v for k, v in row.items() if k != "time") for row in csv.DictReader(f)]


def test_same_seed_same_returns_and_the_loop_logs_its_episodes(tmp_path):
    a = nnlab.fit(TINY, runs_root=tmp_path / "a", progress=False)
    b = nnlab.fit(TINY, runs_root=tmp_path / "b", progress=False)
    c = nnlab.fit({**TINY, "seed": 1}, runs_root=tmp_path / "c", progress=False)
    assert _returns(a.dir) == _returns(b.dir) != _returns(c.dir)
    assert a.test == b.test
    row = _returns(a.dir)[0]
    with open(a.dir / "metrics.csv") as f:
        header = next(csv.reader(f))
    for key in ("loss", "q", "episode_return", "episode_length", "epsilon", "return_100", "val_return"):
        assert key in header
    assert a.meta["env"] == "CartPole-v1" and a.meta["obs_size"] == 4 and a.meta["num_actions"] == 2
    assert a.meta["monitor"] == "val_return" and a.meta["mode"] == "max" and len(row) == len(header) - 1


def test_predict_points_at_rl_play_which_plays_and_renders(tmp_path, capsys):
    run = nnlab.fit(TINY, runs_root=tmp_path, progress=False)
    with pytest.raises(UserError, match="rl play"):
        nnlab.predict(run.dir, ["x.png"])
    results = nnlab.play(run.dir, episodes=2, seed=7)
    assert [r["seed"] for r in results] == [7, 8] and all(r["length"] <= 40 for r in results)
    assert nnlab.play(run.dir, episodes=2, seed=7) == results
    pytest.importorskip("pygame")
    gif = tmp_path / "play.gif"
    assert main(["rl", "play", str(run.dir), "--episodes", "1", "--gif", str(gif)]) == 0
    assert gif.stat().st_size > 1000 and "mean return over 1 episodes" in capsys.readouterr().out


REINFORCE = {**TINY, "model": {"name": "policy_mlp", "hidden": [8]},
             "rl": {**TINY["rl"], "algorithm": "reinforce", "episodes_per_batch": 2, "updates_per_epoch": 3}}


def test_reinforce_trains_and_resumes_exactly_after_ctrl_c(tmp_path, monkeypatch):
    from nnlab.errors import TrainingStopped
    from tests.contracts.test_task_contract import _interrupt_after, _weights

    full = nnlab.fit(REINFORCE, runs_root=tmp_path / "full", progress=False)
    assert full.meta["status"] == "completed" and full.meta["model"] == "policy_mlp"
    _interrupt_after(monkeypatch, "rl", 5)  # epoch 2 of 3 updates, mid-epoch
    with pytest.raises(TrainingStopped):
        nnlab.fit(REINFORCE, runs_root=tmp_path / "part", progress=False)
    monkeypatch.undo()
    (part,) = (tmp_path / "part" / "rl").iterdir()
    nnlab.fit(None, resume=part, runs_root=tmp_path / "part", progress=False)
    wa, wb = _weights(full.dir), _weights(part)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert _returns(full.dir)[1][:6] == _returns(part)[1][:6]  # the interrupted epoch's episodes are the same
