"""SEQUENCE_MODELS: every builder on tokens and on vectors, shapes, state, backward, the cells switch."""
import pytest
import torch

from nnlab.models.sequence import SEQUENCE_MODELS


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_tokens_in_scores_out_and_every_parameter_learns(name):
    torch.manual_seed(0)
    m = SEQUENCE_MODELS.build(name, num_classes=11, vocab_size=11, hidden=8, layers=2, embed=4)
    x = torch.randint(0, 11, (3, 5))
    logits, state = m(x)
    assert logits.shape == (3, 5, 11) and all(s.shape == (2, 3, 8) for s in state)
    logits.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_vectors_in_and_handwritten_cells_match(name):
    torch.manual_seed(0)
    fast = SEQUENCE_MODELS.build(name, num_classes=10, in_features=6, hidden=8)
    slow = SEQUENCE_MODELS.build(name, num_classes=10, in_features=6, hidden=8, cells="handwritten")
    slow.load_state_dict(fast.state_dict())
    x = torch.randn(2, 7, 6)
    torch.testing.assert_close(slow(x)[0], fast(x)[0], atol=1e-6, rtol=0)


def test_carrying_the_state_equals_one_long_pass():
    torch.manual_seed(0)
    m = SEQUENCE_MODELS.build("lstm", num_classes=5, vocab_size=5, hidden=6)
    x = torch.randint(0, 5, (2, 8))
    whole, _ = m(x)
    a, s = m(x[:, :3])
    b, _ = m(x[:, 3:], s)
    torch.testing.assert_close(torch.cat([a, b], 1), whole)


def test_exactly_one_input_kind():
    with pytest.raises(ValueError, match="exactly one"):
        SEQUENCE_MODELS.build("gru", num_classes=3)


def test_lstm_forget_bias_sets_the_forget_gate_only():
    m = SEQUENCE_MODELS.build("lstm", num_classes=3, in_features=2, hidden=4, layers=2, forget_bias=1.0)
    for layer in range(2):
        b_ih, b_hh = getattr(m.rnn.rnn, f"bias_ih_l{layer}"), getattr(m.rnn.rnn, f"bias_hh_l{layer}")
        assert torch.all(b_ih[4:8] == 1.0) and torch.all(b_hh[4:8] == 0.0)
        assert not torch.all(b_ih[:4] == 1.0)
