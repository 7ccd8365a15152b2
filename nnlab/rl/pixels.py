"""Image observations of a gridworld, for DQN from pixels (Mnih et al. 2015 learn from screen images; here a
small grid picture stands in for the Atari frame): ``rl.env_args.pixels: true``.

Each observation is a (3, rows, cols) float image: channel 0 marks the agent's cell, channel 1 the walls,
channel 2 the goals (+1) and pits (-1). The dynamics are the gridworld's table, unchanged."""
from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.rl.mdp import TableEnv


class PixelObservations:
    """A ``TableEnv`` whose ``reset`` / ``step`` return images instead of state indices."""

    def __init__(self, env: TableEnv) -> None:
        self.env, self.mdp = env, env.mdp
        rows, cols = self.mdp.shape
        self.shape = (3, rows, cols)
        self.board = np.zeros(self.shape, dtype=np.float32)  # (3, rows, cols) without the agent
        for i, label in enumerate(self.mdp.labels):
            r, c = divmod(i, cols)
            self.board[1, r, c] = label == "W"
            self.board[2, r, c] = {"G": 1.0, "H": -1.0}.get(label, 0.0)

    def image(self, state: int) -> np.ndarray:
        """The picture of the agent in ``state`` (3, rows, cols)."""
        img = self.board.copy()
        r, c = divmod(self.mdp.cells[state], self.shape[2])
        img[0, r, c] = 1.0
        return img

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict]:
        state, info = self.env.reset(seed=seed)
        return self.image(state), info

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        state, reward, terminated, truncated, info = self.env.step(action)
        return self.image(state), reward, terminated, truncated, info
