import numpy as np
import pytest

from nnlab.errors import ConfigError
from nnlab.rl.dp import value_iteration
from nnlab.rl.mdp import Gridworld, TableEnv, frozenlake

# Russell & Norvig (AIMA 3rd ed., fig. 17.3): utilities of the 4x3 world, R = -0.04 per step, gamma = 1.
AIMA = {(0, 0): 0.812, (0, 1): 0.868, (0, 2): 0.918, (1, 0): 0.762, (1, 2): 0.660,
        (2, 0): 0.705, (2, 1): 0.655, (2, 2): 0.611, (2, 3): 0.388}


def test_gridworld_values_match_the_textbook():
    # AIMA pays -0.04 in every non-terminal state, also on the move into a terminal one: goal +1 - 0.04
    mdp = Gridworld(goal_reward=0.96, pit_reward=-1.04).mdp()
    V = value_iteration(mdp, 1.0, 1e-10).V
    for (r, c), expected in AIMA.items():
        s = mdp.cells.index(r * 4 + c)
        assert V[s] == pytest.approx(expected, abs=1e-3), (r, c)


def test_tables_are_distributions_and_terminals_never_continue():
    for mdp in (Gridworld().mdp(), frozenlake()):
        assert np.allclose(mdp.P.sum(-1), 1.0)
        assert np.all(mdp.C <= mdp.P + 1e-12)
    lake = frozenlake()
    holes = [i for i, c in enumerate(lake.labels) if c in "HG"]
    assert np.all(lake.C[holes] == 0) and lake.goals == {15}
    assert lake.P[0, 0, 0] == pytest.approx(2 / 3)  # slippery: left from the corner stays with 1/3 + 1/3


def test_slip_splits_to_the_perpendicular_moves():
    g = Gridworld(size=[3, 3], walls=[], goals=[[0, 2]], pits=[], start=[1, 1], slip=0.4).mdp()
    s = g.cells.index(4)  # centre; action right (2)
    assert g.P[s, 2, g.cells.index(5)] == pytest.approx(0.6)
    assert g.P[s, 2, g.cells.index(1)] == pytest.approx(0.2) and g.P[s, 2, g.cells.index(7)] == pytest.approx(0.2)


def test_table_env_samples_the_table_and_truncates():
    env = TableEnv(Gridworld(slip=0.0).mdp(), max_steps=3)
    env.reset(seed=0)
    _, r, term, trunc, _ = env.step(3)  # up from (2, 0)
    assert r == pytest.approx(-0.04) and not term and not trunc
    assert env.step(0)[3] is False  # left into the edge: stays, not yet the time limit
    s, _, term, trunc, _ = env.step(0)
    assert (s, term, trunc) == (env.mdp.cells.index(4), False, True)  # third step: truncated, not terminated


@pytest.mark.parametrize("bad, match", [({"size": [0, 3]}, "size"), ({"slip": 1.5}, "slip"),
                                        ({"walls": [[5, 5]]}, "outside"), ({"goals": []}, "goal")])
def test_gridworld_rejects_bad_layouts(bad, match):
    with pytest.raises(ConfigError, match=match):
        Gridworld(**bad)
