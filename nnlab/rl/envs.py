"""Environments by id: Gymnasium's registry, or ``gridworld`` (nnlab's own table, ``nnlab.rl.mdp``).

Every user mistake here (an unknown id, an algorithm that needs discrete actions on a continuous space)
becomes one ``ConfigError`` before a run starts."""
from __future__ import annotations

import difflib
from typing import Any

import numpy as np

from nnlab.errors import ConfigError
from nnlab.rl.pixels import PixelObservations
from nnlab.rl.mdp import Gridworld, TableEnv, TabularMDP, from_gym_table, frozenlake

GRIDWORLD = "gridworld"


def available() -> list[str]:
    """Gymnasium ids that need no extra downloads (classic control, toy text), plus ``gridworld``."""
    import gymnasium as gym

    keep = ("classic_control", "toy_text")
    ids = [k for k, spec in gym.envs.registry.items()
           if isinstance(spec.entry_point, str) and any(m in spec.entry_point for m in keep)]
    return sorted(ids) + [GRIDWORLD]


def check_id(env_id: str) -> None:
    """Raise a ConfigError naming the close and the available ids when ``env_id`` is unknown."""
    import gymnasium as gym

    if env_id == GRIDWORLD or env_id in gym.envs.registry:
        return
    close = difflib.get_close_matches(env_id, list(gym.envs.registry), n=2)
    hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
    raise ConfigError(f"unknown environment {env_id!r} (config key 'rl.env').{hint} "
                      f"Available without downloads: {', '.join(available())}")


def make(env_id: str, env_args: dict[str, Any] | None = None, max_episode_steps: int | None = None,
         render_mode: str | None = None) -> Any:
    """A fresh environment (Gymnasium API: reset(seed) / step(a) with terminated and truncated)."""
    import gymnasium as gym

    check_id(env_id)
    args = dict(env_args or {})
    if env_id == GRIDWORLD:
        pixels = bool(args.pop("pixels", False))
        env = TableEnv(gridworld(args).mdp(), max_episode_steps or 200)
        return PixelObservations(env) if pixels else env
    try:
        return gym.make(env_id, max_episode_steps=max_episode_steps, render_mode=render_mode, **args)
    except TypeError as e:
        raise ConfigError(f"environment {env_id!r} does not take these rl.env_args: {e}") from None


def gridworld(args: dict[str, Any]) -> Gridworld:
    try:
        return Gridworld(**args)
    except TypeError as e:
        raise ConfigError(f"gridworld: {e} (keys: size, walls, goals, pits, start, slip, step_reward, "
                          "goal_reward, pit_reward; pixels for image observations)") from None


def table(env_id: str, env_args: dict[str, Any] | None = None) -> TabularMDP:
    """The known transition table of an environment, for dynamic programming: the gridworld's, or a
    Gymnasium toy-text environment's ``env.unwrapped.P`` (FrozenLake, CliffWalking, Taxi)."""
    args = dict(env_args or {})
    if env_id == GRIDWORLD:
        args.pop("pixels", None)  # how observations look does not change the table
        return gridworld(args).mdp()
    if env_id.startswith("FrozenLake"):
        return frozenlake(**args)
    inner = make(env_id, args).unwrapped
    if not hasattr(inner, "P"):
        raise ConfigError(f"dynamic programming needs a known transition table: {env_id!r} has none (use "
                          "'gridworld' or a toy-text id such as FrozenLake-v1, CliffWalking-v1, Taxi-v3)")
    shape = tuple(getattr(inner, "shape", (1, len(inner.P))))
    return from_gym_table(inner.P, shape)


def spaces(env: Any) -> tuple[int, int, bool]:
    """(observation size, number of actions, discrete observations?) of an environment with discrete
    actions; a ConfigError for a continuous action space."""
    import gymnasium as gym

    if isinstance(env, PixelObservations):
        return int(np.prod(env.shape)), env.mdp.num_actions, False
    if isinstance(env, TableEnv):
        return env.mdp.num_states, env.mdp.num_actions, True
    act, obs = env.action_space, env.observation_space
    if not isinstance(act, gym.spaces.Discrete):
        raise ConfigError(f"{env.spec.id} has a continuous action space ({act}); DQN, REINFORCE and the "
                          "tabular methods here choose among discrete actions. Use an environment with "
                          "discrete actions (CartPole-v1, Acrobot-v1, MountainCar-v0, FrozenLake-v1, ...)")
    if isinstance(obs, gym.spaces.Discrete):
        return int(obs.n), int(act.n), True
    if isinstance(obs, gym.spaces.Box) and len(obs.shape) == 1:
        return int(obs.shape[0]), int(act.n), False
    raise ConfigError(f"{env.spec.id}: only flat (vector) or discrete observations are supported (got {obs})")


def obs_shape(env: Any) -> list[int]:
    """The shape of one observation: (C, H, W) for images, (D,) for vectors, (number of states,) for discrete
    observations (one-hot encoded)."""
    if isinstance(env, PixelObservations):
        return list(env.shape)
    size, _, _ = spaces(env)
    return [size]
