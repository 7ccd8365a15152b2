import json

from nnlab.cli.main import main


def test_rl_solve_prints_values_policy_sweeps_and_success(tmp_path, capsys):
    assert main(["rl", "solve", "configs/rl/frozenlake_vi.yaml", "--out", str(tmp_path), "--rl.test_episodes=200"]) == 0
    out = capsys.readouterr().out
    assert "converged after" in out and "success rate over 200 episodes" in out and "H → ↓ G" in out
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["sweeps"] > 10 and result["residual"] < 1e-8 and (tmp_path / "policy.png").stat().st_size > 0


def test_rl_solve_q_learning_reports_its_curve(tmp_path, capsys):
    args = ["rl", "solve", "configs/rl/gridworld_vi.yaml", "--out", str(tmp_path), "--rl.algorithm=q_learning",
            "--rl.episodes=300", "--rl.eval_every=100", "--rl.test_episodes=100", "--rl.gamma=0.9"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "300 training episodes" in out and "value iteration's policy" in out


def test_rl_solve_refuses_dqn_and_lists_envs(tmp_path, capsys):
    assert main(["rl", "solve", "configs/rl/cartpole_dqn.yaml", "--out", str(tmp_path)]) == 2
    assert "nnlab train" in capsys.readouterr().err
    assert main(["rl", "envs"]) == 0
    assert "FrozenLake-v1" in capsys.readouterr().out
