import numpy as np
import pytest

from nnlab.rl.dp import value_iteration
from nnlab.rl.mdp import Gridworld, TableEnv
from nnlab.rl.tabular import epsilon_greedy, linear, td_control


def test_linear_schedule():
    eps = linear(1.0, 0.1, 10)
    assert eps(0) == 1.0 and eps(5) == pytest.approx(0.55) and eps(10) == eps(100) == pytest.approx(0.1)


def test_epsilon_greedy_explores_at_the_given_rate():
    rng = np.random.default_rng(0)
    q = np.array([0.0, 1.0, 0.0, 0.0])
    picks = [epsilon_greedy(q, 0.4, rng) for _ in range(4000)]
    assert np.mean(np.array(picks) == 1) == pytest.approx(0.6 + 0.4 / 4, abs=0.03)


@pytest.mark.parametrize("method", ["q_learning", "sarsa"])
def test_td_control_finds_the_optimal_policy_of_a_deterministic_grid(method):
    mdp = Gridworld(slip=0.0).mdp()
    env = TableEnv(mdp, max_steps=50)
    res = td_control(env, mdp.num_states, mdp.num_actions, method=method, episodes=400, gamma=0.9, alpha=0.5,
                     epsilon=linear(1.0, 0.0, 300), seed=0)
    best = value_iteration(mdp, 0.9)
    start = mdp.start
    assert res.Q[start].max() == pytest.approx(best.V[start], abs=1e-3)  # the path from the start is exact
    assert best.Q[start, res.Q.argmax(1)[start]] == pytest.approx(best.V[start])  # an optimal action (ties)


def test_td_control_is_seeded():
    mdp = Gridworld().mdp()
    run = lambda: td_control(TableEnv(mdp), mdp.num_states, 4, method="q_learning", episodes=50, gamma=0.9,
                             alpha=0.1, epsilon=linear(1, 0.1, 40), seed=3).Q
    assert np.array_equal(run(), run())
