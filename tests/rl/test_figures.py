import numpy as np

from nnlab.rl.dp import value_iteration
from nnlab.rl.figures import policy_png, policy_text, value_grid
from nnlab.rl.mdp import Gridworld


def test_policy_as_arrows_and_values_on_the_grid(tmp_path):
    mdp = Gridworld().mdp()
    sol = value_iteration(mdp, 1.0)
    assert policy_text(mdp, sol.policy) == "→ → → G\n↑ # ↑ H\n↑ ← ← ←"
    grid = value_grid(mdp, sol.V)
    assert grid.shape == (3, 4) and np.isnan(grid[1, 1]) and grid[0, 2] == sol.V[2]
    png = policy_png(mdp, sol.V, sol.policy, tmp_path / "p.png", "4x3")
    assert png.read_bytes()[:4] == b"\x89PNG"
