"""The vanishing-gradients study's measurements: the gradient profile through time and the recall task."""
import torch

from nnlab.experiments.studies.vanishing_gradients import input_gradient_norms, recall_batch, train_recall
from nnlab.models.sequence import SEQUENCE_MODELS


def test_gradient_profile_matches_autograd_and_vanishes_for_a_contracting_rnn():
    torch.manual_seed(0)
    m = SEQUENCE_MODELS.build("rnn", num_classes=3, in_features=4, hidden=6)
    with torch.no_grad():
        m.rnn.rnn.weight_hh_l0.mul_(0.1)  # a contraction: each step shrinks the gradient
    x = torch.randn(2, 30, 4)
    g = input_gradient_norms(m, x)
    assert g.shape == (30,) and g[-1] > 0
    assert g[0] / g[-1] < 1e-6  # 29 steps away from the loss: vanished
    xr = x.clone().requires_grad_()
    m(xr)[0][:, -1].logsumexp(1).sum().backward()
    torch.testing.assert_close(g, xr.grad.norm(dim=2).mean(0))


def test_recall_batches_put_the_answer_first_among_distractors():
    x, y = recall_batch(7, 5, 3, torch.Generator().manual_seed(0))
    assert x.shape == (5, 7, 6) and torch.equal(x[:, 0].argmax(1), y)
    assert (x[:, 1:].argmax(2) >= 3).all()  # distractors come from the other symbols


def test_a_gru_learns_short_recall_above_chance():
    assert train_recall("gru", 3, 60, 16, 2, seed=0) > 0.9
