"""Dynamic programming on a known MDP (notes: the Bellman equation writes a state's value through its
successors). Value iteration applies the optimality backup until the largest change (the Bellman residual)
is below ``tol``; policy iteration alternates exact policy evaluation (a linear solve) and greedy improvement.
Sutton & Barto, *Reinforcement Learning: An Introduction*, ch. 4."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnlab.rl.mdp import TabularMDP


@dataclass
class Solution:
    V: np.ndarray  # (S,) state values
    Q: np.ndarray  # (S, A) action values
    policy: np.ndarray  # (S,) greedy action per state
    sweeps: int  # backups over all states (value iteration) or improvement steps (policy iteration)
    residual: float  # max |B V - V| of the returned V


def q_values(mdp: TabularMDP, V: np.ndarray, gamma: float) -> np.ndarray:
    """One Bellman backup: Q(s, a) = R(s, a) + gamma * sum_s' C(s, a, s') V(s')  (S, A)."""
    return mdp.R + gamma * np.einsum("sat,t->sa", mdp.C, V)


def bellman_residual(mdp: TabularMDP, V: np.ndarray, gamma: float) -> float:
    """max_s |max_a Q(s, a) - V(s)|: zero exactly at the optimal values."""
    return float(np.abs(q_values(mdp, V, gamma).max(1) - V).max())


def greedy(Q: np.ndarray) -> np.ndarray:
    """The greedy action per state (ties: the lowest action index, deterministic)."""
    return Q.argmax(1)


def value_iteration(mdp: TabularMDP, gamma: float, tol: float = 1e-8, max_sweeps: int = 100_000) -> Solution:
    """Sweep V <- max_a Q(V) until the residual is below ``tol`` (for gamma < 1, a contraction)."""
    V = np.zeros(mdp.num_states)
    for sweep in range(1, max_sweeps + 1):
        Q = q_values(mdp, V, gamma)
        new = Q.max(1)
        delta = float(np.abs(new - V).max())
        V = new
        if delta < tol:
            break
    Q = q_values(mdp, V, gamma)
    return Solution(V, Q, greedy(Q), sweep, bellman_residual(mdp, V, gamma))


def evaluate_policy(mdp: TabularMDP, policy: np.ndarray, gamma: float) -> np.ndarray:
    """V of a deterministic policy, exactly: solve (I - gamma * C_pi) V = R_pi.

    With gamma = 1 a policy that never ends an episode has no finite value (the system is singular); it is
    evaluated with gamma = 1 - 1e-10 instead, which leaves proper policies' values within ~1e-10 per step
    and gives improper ones the huge values (negative with step costs) that policy improvement leaves."""
    idx = np.arange(mdp.num_states)
    C = mdp.C[idx, policy]  # (S, S)
    R = mdp.R[idx, policy]  # (S,)
    return np.linalg.solve(np.eye(mdp.num_states) - min(gamma, 1 - 1e-10) * C, R)


def policy_iteration(mdp: TabularMDP, gamma: float, max_iters: int = 10_000) -> Solution:
    """Evaluate, improve greedily, stop when the policy is stable (a finite number of steps)."""
    policy = np.zeros(mdp.num_states, dtype=int)
    for it in range(1, max_iters + 1):
        V = evaluate_policy(mdp, policy, gamma)
        Q = q_values(mdp, V, gamma)
        best = Q.max(1, keepdims=True)
        # keep the current action when it is (numerically) as good as the best: no flip-flop between ties
        keep = Q[np.arange(mdp.num_states), policy] >= best[:, 0] - 1e-10
        new = np.where(keep, policy, greedy(Q))
        if np.array_equal(new, policy):
            break
        policy = new
    return Solution(V, Q, policy, it, bellman_residual(mdp, V, gamma))
