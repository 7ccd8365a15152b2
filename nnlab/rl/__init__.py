"""Reinforcement learning parts used by ``nnlab.tasks.rl`` and ``nnlab rl``: known MDPs and dynamic
programming, tabular TD control, environments, the replay buffer and the DQN target."""
