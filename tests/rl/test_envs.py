import pytest

from nnlab.errors import ConfigError
from nnlab.rl import envs


def test_unknown_environment_lists_available_ones():
    with pytest.raises(ConfigError, match=r"CartPole-v1.*Available without downloads: .*FrozenLake-v1"):
        envs.check_id("CartPole-v9")


def test_continuous_actions_are_refused():
    with pytest.raises(ConfigError, match="continuous action space"):
        envs.spaces(envs.make("Pendulum-v1"))


def test_tables_of_toy_text_environments_and_spaces():
    cliff = envs.table("CliffWalking-v1")
    assert cliff.shape == (4, 12) and cliff.num_states == 48 and cliff.num_actions == 4
    with pytest.raises(ConfigError, match="no"):
        envs.table("CartPole-v1")
    assert envs.spaces(envs.make("FrozenLake-v1")) == (16, 4, True)
    assert envs.spaces(envs.make("CartPole-v1")) == (4, 2, False)
    assert envs.spaces(envs.make("gridworld")) == (11, 4, True)
