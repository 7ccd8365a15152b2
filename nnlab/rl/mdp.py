"""Known MDPs as tables (notes: an MDP is a sequential decision problem with the Markov property).

A ``TabularMDP`` holds ``P[s, a, s']`` (transition probabilities), ``T[s, a, s']`` (the reward of that
transition; ``R[s, a]`` is its expectation) and ``C[s, a, s']``, the probability of moving to ``s'`` *and
continuing* (zero where the move ends the episode), so the Bellman backup is ``Q = R + gamma * C @ V`` and terminal successors never bootstrap.
Two sources: a configurable gridworld, and any Gymnasium toy-text environment's transition table
(``env.unwrapped.P``, e.g. FrozenLake).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from nnlab.errors import ConfigError

# Action order of FrozenLake (and of the gridworld, so arrows and tables read the same).
ACTIONS = ("left", "down", "right", "up")
_MOVES = ((0, -1), (1, 0), (0, 1), (-1, 0))  # (d_row, d_col) per action


@dataclass
class TabularMDP:
    """Transition table of a finite MDP; ``shape`` lays states out as a grid (row-major) for printing."""

    P: np.ndarray  # (S, A, S) transition probabilities
    T: np.ndarray  # (S, A, S) reward of each transition
    C: np.ndarray  # (S, A, S) probability of the move with the episode continuing
    shape: tuple[int, int]
    start: int = 0
    goals: frozenset[int] = frozenset()
    labels: list[str] = field(default_factory=list)  # one character per grid cell ('W' wall, 'G' goal, ...)
    cells: list[int] = field(default_factory=list)  # grid cell index of each state

    @property
    def R(self) -> np.ndarray:
        """Expected immediate reward (S, A)."""
        return (self.P * self.T).sum(-1)

    @property
    def num_states(self) -> int:
        return self.P.shape[0]

    @property
    def num_actions(self) -> int:
        return self.P.shape[1]


def from_gym_table(table: dict[int, dict[int, list[tuple]]], shape: tuple[int, int], start: int = 0,
                   labels: Sequence[str] = ()) -> TabularMDP:
    """A Gymnasium toy-text table ``P[s][a] = [(prob, next_state, reward, terminated), ...]``."""
    S = len(table)
    A = len(table[0])
    P, C, T = np.zeros((S, A, S)), np.zeros((S, A, S)), np.zeros((S, A, S))
    for s, row in table.items():
        for a, outcomes in row.items():
            for prob, nxt, reward, done in outcomes:
                P[s, a, nxt] += prob
                C[s, a, nxt] += 0.0 if done else prob
                T[s, a, nxt] += prob * reward
    T = np.divide(T, P, out=np.zeros_like(T), where=P > 0)  # the reward given the successor
    goals = frozenset(i for i, c in enumerate(labels) if c == "G")
    return TabularMDP(P, T, C, shape, start, goals, list(labels), list(range(S)))


def frozenlake(map_name: str = "4x4", is_slippery: bool = True, **kwargs: Any) -> TabularMDP:
    """Gymnasium's FrozenLake as a table (its own ``env.unwrapped.P``)."""
    import gymnasium as gym

    env = gym.make("FrozenLake-v1", map_name=map_name, is_slippery=is_slippery, **kwargs)
    desc = env.unwrapped.desc.astype(str)
    labels = [c for row in desc for c in row]
    return from_gym_table(env.unwrapped.P, desc.shape, labels.index("S"), labels)


@dataclass
class Gridworld:
    """A grid of cells (Russell & Norvig's 4x3 world by default): walls block, goals and pits end the
    episode with their reward, every other move costs ``step_reward``. With probability ``slip`` the agent
    moves to one of the two perpendicular directions instead (half each); bumping into a wall stays put."""

    size: list[int] = field(default_factory=lambda: [3, 4])  # [rows, cols]
    walls: list[list[int]] = field(default_factory=lambda: [[1, 1]])
    goals: list[list[int]] = field(default_factory=lambda: [[0, 3]])
    pits: list[list[int]] = field(default_factory=lambda: [[1, 3]])
    start: list[int] = field(default_factory=lambda: [2, 0])
    slip: float = 0.2
    step_reward: float = -0.04
    goal_reward: float = 1.0
    pit_reward: float = -1.0

    def __post_init__(self) -> None:
        rows, cols = self.size
        if rows < 1 or cols < 1:
            raise ConfigError("gridworld size must be [rows, cols] with positive sizes")
        if not 0.0 <= self.slip <= 1.0:
            raise ConfigError(f"gridworld slip must be a probability in [0, 1] (got {self.slip})")
        for name in ("walls", "goals", "pits"):
            for r, c in getattr(self, name):
                if not (0 <= r < rows and 0 <= c < cols):
                    raise ConfigError(f"gridworld {name} cell {[r, c]} is outside the {rows}x{cols} grid")
        if not self.goals:
            raise ConfigError("a gridworld needs at least one goal cell")
        if list(self.start) in [list(w) for w in self.walls]:
            raise ConfigError("the gridworld start cell is a wall")

    def label(self, r: int, c: int) -> str:
        cell = [r, c]
        for char, cells in (("W", self.walls), ("G", self.goals), ("H", self.pits)):
            if cell in [list(x) for x in cells]:
                return char
        return "S" if cell == list(self.start) else "."

    def mdp(self) -> TabularMDP:
        rows, cols = self.size
        labels = [self.label(r, c) for r in range(rows) for c in range(cols)]
        cells = [i for i, ch in enumerate(labels) if ch != "W"]
        index = {cell: s for s, cell in enumerate(cells)}
        S, A = len(cells), len(ACTIONS)
        P, C, T = np.zeros((S, A, S)), np.zeros((S, A, S)), np.zeros((S, A, S))
        for s, cell in enumerate(cells):
            if labels[cell] in "GH":  # terminal: absorbing, no reward, never continues
                P[s, :, s] = 1.0
                continue
            for a in range(A):
                for move, prob in self._outcomes(a):
                    nxt = self._move(cell, move, labels)
                    t = index[nxt]
                    P[s, a, t] += prob
                    end = labels[nxt] in "GH"
                    C[s, a, t] += 0.0 if end else prob
                    T[s, a, t] = {"G": self.goal_reward, "H": self.pit_reward}.get(labels[nxt], self.step_reward)
        goals = frozenset(index[i] for i, ch in enumerate(labels) if ch == "G")
        start = index[labels.index("S")] if "S" in labels else 0
        return TabularMDP(P, T, C, (rows, cols), start, goals, labels, cells)

    def _outcomes(self, a: int) -> list[tuple[int, float]]:
        """The intended move with 1 - slip, each perpendicular one with slip / 2."""
        side = self.slip / 2
        return [(a, 1.0 - self.slip), ((a + 1) % 4, side), ((a + 3) % 4, side)]

    def _move(self, cell: int, a: int, labels: list[str]) -> int:
        rows, cols = self.size
        r, c = divmod(cell, cols)
        dr, dc = _MOVES[a]
        nr, nc = r + dr, c + dc
        if not (0 <= nr < rows and 0 <= nc < cols) or labels[nr * cols + nc] == "W":
            return cell
        return nr * cols + nc


class TableEnv:
    """A Gymnasium-style environment that samples a ``TabularMDP`` (for Q-learning / SARSA on a gridworld):
    ``reset(seed) -> (state, info)``, ``step(a) -> (state, reward, terminated, truncated, info)``."""

    def __init__(self, mdp: TabularMDP, max_steps: int = 200) -> None:
        self.mdp, self.max_steps = mdp, max_steps
        self.rng = np.random.default_rng()
        self.s, self.t = mdp.start, 0

    def reset(self, seed: int | None = None) -> tuple[int, dict]:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.s, self.t = self.mdp.start, 0
        return self.s, {}

    def step(self, a: int) -> tuple[int, float, bool, bool, dict]:
        m = self.mdp
        nxt = int(self.rng.choice(m.num_states, p=m.P[self.s, a]))
        reward = float(m.T[self.s, a, nxt])
        terminated = m.P[self.s, a, nxt] > 0 and m.C[self.s, a, nxt] == 0
        self.s, self.t = nxt, self.t + 1
        return nxt, reward, bool(terminated), self.t >= self.max_steps and not terminated, {}
