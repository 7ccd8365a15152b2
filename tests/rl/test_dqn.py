import pytest
import torch
from torch import nn

from nnlab.models.rl.mlp import qmlp
from nnlab.rl.dqn import DQNAgent, dqn_loss, td_target


class Table(nn.Module):
    """Q(s, .) = the row of a fixed table, s given as a one-hot (B, S)."""

    def __init__(self, table: list[list[float]]) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(table))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.w


def _agent(online: list[list[float]], target: list[list[float]]) -> DQNAgent:
    agent = DQNAgent(Table(online))
    agent.target.w.data = torch.tensor(target)
    return agent


def test_target_uses_the_target_network_and_zero_bootstrap_only_on_termination():
    agent = _agent([[100.0, 100.0]], [[1.0, 3.0]])  # the online net must not be used by plain DQN
    nxt = torch.ones(3, 1)
    reward = torch.tensor([1.0, 1.0, 1.0])
    # row 0: continues; row 1: terminated (no bootstrap); row 2: truncated by a time limit, which is stored
    # as terminated = 0, so it bootstraps from the real next state like row 0
    terminated = torch.tensor([0.0, 1.0, 0.0])
    y = td_target(agent, reward, nxt, terminated, gamma=0.5, double=False)
    assert y.tolist() == [1.0 + 0.5 * 3.0, 1.0, 1.0 + 0.5 * 3.0]


def test_double_dqn_selects_with_online_and_evaluates_with_target():
    agent = _agent([[0.0, 5.0, 1.0]], [[9.0, 2.0, 4.0]])
    y = td_target(agent, torch.zeros(1), torch.ones(1, 1), torch.zeros(1), gamma=1.0, double=True)
    assert y.item() == 2.0  # online's argmax (action 1) valued by the target
    assert td_target(agent, torch.zeros(1), torch.ones(1, 1), torch.zeros(1), 1.0, False).item() == 9.0


def test_loss_is_huber_on_the_taken_action_and_reaches_only_the_online_net():
    agent = _agent([[0.0, 4.0]], [[0.0, 0.0]])
    batch = {"obs": torch.ones(1, 1), "action": torch.tensor([1]), "reward": torch.zeros(1),
             "next_obs": torch.ones(1, 1), "terminated": torch.ones(1)}
    loss, q = dqn_loss(agent, batch, 0.99, double=False)
    assert q.item() == 4.0 and loss.item() == pytest.approx(4.0 - 0.5)  # Huber beyond 1: |e| - 1/2
    assert dqn_loss(agent, batch, 0.99, False, "mse")[0].item() == 16.0
    loss.backward()
    assert agent.online.w.grad is not None and agent.target.w.grad is None


def test_hard_and_polyak_target_updates():
    agent = DQNAgent(qmlp(obs_size=3, num_actions=2, hidden=[4]))
    with torch.no_grad():
        for p in agent.online.parameters():
            p.add_(1.0)
    before = [p.clone() for p in agent.target.parameters()]
    agent.sync_target(0.25)
    for t, o, b in zip(agent.target.parameters(), agent.online.parameters(), before):
        assert torch.allclose(t, 0.75 * b + 0.25 * o)
    agent.sync_target(1.0)
    assert all(torch.equal(t, o) for t, o in zip(agent.target.parameters(), agent.online.parameters()))
    assert not any(p.requires_grad for p in agent.target.parameters())
