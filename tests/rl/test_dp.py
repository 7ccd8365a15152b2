import numpy as np
import pytest

from nnlab.rl import envs
from nnlab.rl.dp import bellman_residual, evaluate_policy, policy_iteration, q_values, value_iteration
from nnlab.rl.mdp import Gridworld, TabularMDP, frozenlake
from nnlab.rl.tabular import success_rate


def two_states(p: float) -> TabularMDP:
    """State 0 pays 0, state 1 pays 1 per step. Action 0 stays; action 1 moves to the other state with
    probability p (else stays). Optimal: stay in 1, move from 0."""
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[1, 0, 1] = 1.0
    P[0, 1] = [1 - p, p]
    P[1, 1] = [p, 1 - p]
    T = np.zeros((2, 2, 2))
    T[1] = 1.0  # the reward is paid in state 1, whatever happens
    return TabularMDP(P, T, P.copy(), (1, 2))


@pytest.mark.parametrize("gamma, p", [(0.9, 1.0), (0.5, 0.5), (0.99, 0.3)])
def test_value_iteration_matches_the_closed_form(gamma, p):
    sol = value_iteration(two_states(p), gamma, tol=1e-12)
    v1 = 1 / (1 - gamma)  # stay in state 1 forever
    v0 = gamma * p * v1 / (1 - gamma * (1 - p))  # V0 = gamma (p V1 + (1 - p) V0)
    assert sol.V == pytest.approx([v0, v1], rel=1e-9)
    assert list(sol.policy) == [1, 0]


@pytest.mark.parametrize("gamma", [0.9, 0.99])
def test_bellman_residual_of_the_returned_values_is_below_tolerance(gamma):
    mdp = frozenlake()
    sol = value_iteration(mdp, gamma, tol=1e-8)
    assert sol.residual == bellman_residual(mdp, sol.V, gamma) < 1e-8 / (1 - gamma)
    assert sol.residual < 1e-7 and sol.sweeps > 1


@pytest.mark.parametrize("mdp, gamma", [(frozenlake(), 0.9), (frozenlake(), 0.99), (Gridworld().mdp(), 1.0),
                                        (frozenlake("8x8"), 0.95)])
def test_policy_iteration_agrees_with_value_iteration(mdp, gamma):
    vi, pi = value_iteration(mdp, gamma, 1e-10), policy_iteration(mdp, gamma)
    assert np.array_equal(vi.policy, pi.policy)
    assert np.allclose(vi.V, pi.V, atol=1e-7)


def test_policy_evaluation_is_the_linear_solve():
    mdp = frozenlake()
    policy = np.arange(mdp.num_states) % 4
    V = evaluate_policy(mdp, policy, 0.9)
    idx = np.arange(mdp.num_states)
    assert np.allclose(V, q_values(mdp, V, 0.9)[idx, policy])  # V is the fixed point of its own backup


def test_frozenlake_value_iteration_policy_succeeds_near_the_known_optimum():
    mdp = frozenlake()
    policy = value_iteration(mdp, 0.99).policy
    rate = success_rate(envs.make("FrozenLake-v1"), policy, 1000, seed=0)
    assert 0.70 <= rate <= 0.78  # about 0.74 within the 100-step limit; 1000 episodes: +-0.014 std
    again = [success_rate(envs.make("FrozenLake-v1"), policy, 50, seed=1) for _ in range(2)]
    assert again[0] == again[1]  # seeded
