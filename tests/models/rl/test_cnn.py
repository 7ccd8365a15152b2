import torch

from nnlab.models.rl import RL_MODELS


def test_qcnn_reads_flat_observations_as_images_and_every_parameter_learns():
    q = RL_MODELS.build("qcnn", obs_size=3 * 4 * 5, num_actions=4, obs_shape=[3, 4, 5], channels=[4, 8], hidden=16)
    x = torch.randn(6, 60)  # flat, as the replay buffer stores them
    out = q(x)
    assert out.shape == (6, 4) and torch.equal(out, q(x.view(6, 3, 4, 5)))
    out.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in q.parameters())
