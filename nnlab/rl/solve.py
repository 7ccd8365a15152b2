"""``nnlab rl solve``: the tabular methods on a config's environment, measured the same way — value and
policy iteration on the known table, Q-learning and SARSA from sampled episodes — each judged by the
success rate of its greedy policy over ``rl.test_episodes`` seeded episodes."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from nnlab.config import Config
from nnlab.errors import ConfigError
from nnlab.rl import dp, envs, tabular
from nnlab.rl.figures import policy_png, policy_text, value_grid

_EVAL_SEED = 12345  # evaluation episodes never share seeds with training episodes


def solve(cfg: Config, out_dir: str | Path) -> dict[str, Any]:
    """Solve, evaluate, write ``policy.png`` and ``result.json`` into ``out_dir``; the result as a dict."""
    r = cfg.rl
    if r.algorithm not in ("value_iteration", "policy_iteration", "q_learning", "sarsa"):
        raise ConfigError(f"nnlab rl solve runs the tabular methods (value_iteration, policy_iteration, "
                          f"q_learning, sarsa); rl.algorithm {r.algorithm!r} trains with `nnlab train CONFIG`")
    t0 = time.perf_counter()
    env = envs.make(r.env, r.env_args, r.max_episode_steps)
    obs_size, num_actions, discrete = envs.spaces(env)
    if not discrete:
        raise ConfigError(f"tabular methods need discrete observations; {r.env} has continuous ones (use dqn)")
    mdp = envs.table(r.env, r.env_args) if r.algorithm in ("value_iteration", "policy_iteration") else None
    result: dict[str, Any] = {"env": r.env, "algorithm": r.algorithm, "gamma": r.gamma}
    if mdp is not None:
        sol = (dp.value_iteration(mdp, r.gamma, r.tol) if r.algorithm == "value_iteration"
               else dp.policy_iteration(mdp, r.gamma))
        V, policy = sol.V, sol.policy
        result.update(sweeps=sol.sweeps, residual=sol.residual)
    else:
        td = _td(cfg, env, obs_size, num_actions)
        V, policy = td.Q.max(1), td.Q.argmax(1)
        result.update(episodes=td.episodes, curve=td.curve, **_reference(cfg, env, td.curve))
    result["success_rate"] = tabular.success_rate(env, policy, r.test_episodes, seed=_EVAL_SEED + cfg.seed)
    result["test_episodes"] = r.test_episodes
    result["seconds"] = time.perf_counter() - t0
    return _write(cfg, mdp, V, policy, result, Path(out_dir))


def _td(cfg: Config, env: Any, obs_size: int, num_actions: int) -> tabular.TDResult:
    r = cfg.rl
    eps = tabular.linear(r.epsilon_start, r.epsilon_end, int(r.exploration_fraction * r.episodes))
    return tabular.td_control(env, obs_size, num_actions, method=r.algorithm, episodes=r.episodes, gamma=r.gamma,
                              alpha=r.alpha, epsilon=eps, seed=cfg.seed, eval_every=r.eval_every)


def _reference(cfg: Config, env: Any, curve: list[tuple[int, float]]) -> dict[str, Any]:
    """Where the environment's table is known: value iteration's success rate, and the first evaluation
    at which the learned greedy policy reached 95% of it (``episodes_to_95``)."""
    r = cfg.rl
    try:
        mdp = envs.table(r.env, r.env_args)
    except ConfigError:
        return {}
    best = tabular.success_rate(env, dp.value_iteration(mdp, r.gamma, r.tol).policy, r.test_episodes,
                                seed=_EVAL_SEED + cfg.seed)
    reached = next((ep for ep, rate in curve if rate >= 0.95 * best), None)
    return {"optimal_success_rate": best, "episodes_to_95": reached}


def _write(cfg: Config, mdp: Any, V: np.ndarray, policy: np.ndarray, result: dict[str, Any], out: Path
           ) -> dict[str, Any]:
    r = cfg.rl
    mdp = mdp or envs.table(r.env, r.env_args)
    result["V"] = value_grid(mdp, V).tolist()
    result["policy"] = policy_text(mdp, policy)
    title = f"{r.env} · {r.algorithm} · gamma {r.gamma} · success {result['success_rate']:.3f}"
    result["policy_png"] = str(policy_png(mdp, V, policy, out / "policy.png", title))
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps(result, indent=1, default=float))
    return result
