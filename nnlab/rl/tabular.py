"""Tabular temporal-difference control: Q-learning (off-policy) and SARSA (on-policy), epsilon-greedy
exploration (Sutton & Barto ch. 6), and the success rate of a fixed policy over seeded episodes."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass
class TDResult:
    Q: np.ndarray  # (S, A)
    episodes: int
    curve: list[tuple[int, float]] = field(default_factory=list)  # (episodes, greedy success rate)


def linear(start: float, end: float, duration: int) -> Callable[[int], float]:
    """start -> end linearly over ``duration`` steps, then ``end`` (epsilon schedules)."""
    def value(t: int) -> float:
        if duration <= 0:
            return end
        return start + (end - start) * min(t / duration, 1.0)
    return value


def epsilon_greedy(q: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    """A random action with probability epsilon, else the greedy one (ties broken at random)."""
    if rng.random() < epsilon:
        return int(rng.integers(len(q)))
    best = np.flatnonzero(q == q.max())
    return int(best[0] if len(best) == 1 else rng.choice(best))


def td_control(env: Any, num_states: int, num_actions: int, *, method: str, episodes: int, gamma: float,
               alpha: float, epsilon: Callable[[int], float], seed: int, eval_every: int = 0,
               eval_episodes: int = 200) -> TDResult:
    """Q-learning (target max_a' Q(s', a')) or SARSA (target Q(s', a'), a' the action taken next).
    Terminated transitions do not bootstrap; truncated ones (time limits) do."""
    rng = np.random.default_rng(seed)
    Q = np.zeros((num_states, num_actions))
    curve: list[tuple[int, float]] = []
    for ep in range(episodes):
        s, _ = env.reset(seed=seed + ep)
        a = epsilon_greedy(Q[s], epsilon(ep), rng)
        while True:
            s2, r, terminated, truncated, _ = env.step(a)
            a2 = epsilon_greedy(Q[s2], epsilon(ep), rng)
            nxt = Q[s2].max() if method == "q_learning" else Q[s2, a2]
            target = r + (0.0 if terminated else gamma * nxt)
            Q[s, a] += alpha * (target - Q[s, a])
            s, a = s2, a2
            if terminated or truncated:
                break
        if eval_every and (ep + 1) % eval_every == 0:
            curve.append((ep + 1, success_rate(env, Q.argmax(1), eval_episodes, seed=10**6 + ep)))
    return TDResult(Q, episodes, curve)


def success_rate(env: Any, policy: np.ndarray, episodes: int, seed: int) -> float:
    """Fraction of episodes that end in a positive terminal reward (a goal) under a deterministic policy.
    The first reset is seeded; later ones continue the environment's generator (reproducible)."""
    wins = 0
    for ep in range(episodes):
        s, _ = env.reset(seed=seed if ep == 0 else None)
        while True:
            s, r, terminated, truncated, _ = env.step(int(policy[s]))
            if terminated or truncated:
                wins += int(terminated and r > 0)
                break
    return wins / max(episodes, 1)
