import torch

from nnlab.models.rl import RL_MODELS


def test_registry_and_shapes_and_gradients():
    assert RL_MODELS.names() == ["policy_mlp", "qcnn", "qmlp"]
    x = torch.randn(5, 4)
    q = RL_MODELS.build("qmlp", obs_size=4, num_actions=3, hidden=[8, 8])
    assert q(x).shape == (5, 3)
    pv = RL_MODELS.build("policy_mlp", obs_size=4, num_actions=3, hidden=[8])
    logits, value = pv(x), pv.value(x)
    assert logits.shape == (5, 3) and value.shape == (5,)
    for model, out in ((q, q(x).sum()), (pv, logits.sum() + value.sum())):
        out.backward()
        assert all(p.grad is not None for p in model.parameters())
