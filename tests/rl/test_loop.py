import torch
from torch import nn

from nnlab.rl import envs
from nnlab.rl.loop import EpisodeRunner, TransitionLoop, encoder
from nnlab.rl.replay import ReplayBuffer
from nnlab.rl.tabular import linear


def _runner(seed: int = 0, limit: int | None = None) -> EpisodeRunner:
    return EpisodeRunner(lambda: envs.make("CartPole-v1", max_episode_steps=limit), encoder(4, False), seed)


def _loop(seed: int = 0, limit: int | None = None, epsilon: float = 1.0) -> TransitionLoop:
    policy = nn.Linear(4, 2)
    return TransitionLoop(_runner(seed, limit), ReplayBuffer(100, 4, seed), policy, num_actions=2, batch_size=4,
                          steps_per_epoch=10, train_frequency=2, warmup=6, epsilon=linear(epsilon, epsilon, 1),
                          seed=seed)


def test_runner_state_restores_the_environment_exactly():
    a = _runner(seed=5)
    for t in range(30):
        a.step(t % 2)
    b = _runner(seed=0)
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.obs, b.obs) and a.episode == b.episode and a.ep_length == b.ep_length
    for t in range(40):
        sa, sb = a.step((t // 3) % 2), b.step((t // 3) % 2)
        assert all(torch.equal(torch.as_tensor(x), torch.as_tensor(y)) for x, y in zip(sa, sb))


def test_truncation_is_stored_as_not_terminated_with_the_real_next_state():
    loop = _loop(limit=3)
    next(iter(loop))  # 6 warm-up steps + 2: two full 3-step episodes, all truncated, none terminated
    buf = loop.buffer
    assert buf.terminated[:8].sum() == 0
    assert torch.equal(buf.obs[1], buf.next_obs[0]) and torch.equal(buf.obs[2], buf.next_obs[1])
    assert not torch.equal(buf.obs[3], buf.next_obs[2])  # step 3 ended the episode: its successor is real,
    assert loop.runner.logs()["episodes"] == 2.0  # the next transition starts from a fresh reset


def test_epoch_has_len_batches_after_warmup_and_logs_episodes():
    loop = _loop()
    batches = list(loop)
    assert len(batches) == len(loop) == 5 and batches[0]["obs"].shape == (4, 4)
    assert loop.runner.steps == 6 + 10
    logs = loop.epoch_logs()
    assert logs["epsilon"] == 1.0 and logs["env_steps"] == 16.0


def test_same_seed_same_transitions_and_resume_mid_epoch_is_exact():
    a, b = _loop(seed=2, epsilon=0.5), _loop(seed=2, epsilon=0.5)
    b.policy.load_state_dict(a.policy.state_dict())
    it = iter(a)
    first = [next(it) for _ in range(2)]
    state = a.state_dict()
    rest = list(it)
    b.load_state_dict(state, resume_batch=2)
    b.policy.load_state_dict(a.policy.state_dict())
    again = list(b)
    assert len(again) == len(rest) == 3 and len(first) == 2
    for x, y in zip(rest, again):
        assert all(torch.equal(x[k], y[k]) for k in x)


def test_returns_to_go():
    from nnlab.rl.loop import returns_to_go

    assert returns_to_go([1.0, 1.0, 1.0], 0.5).tolist() == [1.75, 1.5, 1.0]
