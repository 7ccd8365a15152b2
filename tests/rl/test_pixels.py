"""The pixel gridworld: the same table as the plain one, observed as (3, rows, cols) images."""
import numpy as np
import pytest

from nnlab.rl import envs
from nnlab.rl.pixels import PixelObservations

WORLD = {"size": [3, 4], "walls": [[1, 1]], "goals": [[0, 3]], "pits": [[1, 3]], "start": [2, 0], "slip": 0.2}


def test_images_show_agent_walls_goal_and_pit_and_follow_the_table():
    plain, pixels = envs.make("gridworld", WORLD), envs.make("gridworld", {**WORLD, "pixels": True})
    assert isinstance(pixels, PixelObservations) and envs.obs_shape(pixels) == [3, 3, 4]
    assert envs.spaces(pixels) == (36, 4, False) and envs.obs_shape(plain) == [11]
    img, _ = pixels.reset(seed=5)
    state, _ = plain.reset(seed=5)
    assert img.shape == (3, 3, 4) and img[0].sum() == 1 and img[0, 2, 0] == 1  # the agent at the start
    assert img[1, 1, 1] == 1 and img[1].sum() == 1 and img[2, 0, 3] == 1 and img[2, 1, 3] == -1
    for a in [0, 1, 1, 2, 3, 0, 1]:  # the same seed and actions: the same states, seen as pictures
        img, r1, t1, _, _ = pixels.step(a)
        state, r2, t2, _, _ = plain.step(a)
        r, c = divmod(plain.mdp.cells[state], 4)
        assert img[0, r, c] == 1 and img[0].sum() == 1 and (r1, t1) == (r2, t2)
        if t1:
            break


def test_the_table_for_dynamic_programming_ignores_pixels():
    a, b = envs.table("gridworld", WORLD), envs.table("gridworld", {**WORLD, "pixels": True})
    assert np.array_equal(a.P, b.P) and np.array_equal(a.T, b.T)


def test_qcnn_refuses_observations_that_are_not_images():
    from nnlab.errors import ConfigError
    from nnlab.models.rl import RL_MODELS

    with pytest.raises(ConfigError, match="qcnn reads image observations"):
        RL_MODELS.build("qcnn", obs_size=4, num_actions=2)
