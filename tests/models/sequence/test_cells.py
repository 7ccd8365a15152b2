"""The hand-written cells against torch.nn.RNN / LSTM / GRU on the same weights: forward and gradients."""
import pytest
import torch
from torch import nn

from nnlab.models.sequence import Recurrent, gru_cell, lstm_cell, rnn_cell
from nnlab.models.sequence.cells import unroll

TORCH = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def _pair(kind: str, layers: int = 2):
    torch.manual_seed(0)
    ref = TORCH[kind](5, 7, layers, batch_first=True).double()
    return ref, Recurrent(kind, 5, 7, layers, cells="handwritten").double()


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_handwritten_equals_torch_forward_and_gradients(kind):
    ref, mine = _pair(kind)
    mine.rnn.load_state_dict(ref.state_dict())  # copied weights
    x = torch.randn(3, 6, 5, dtype=torch.double)
    h0 = tuple(torch.randn(2, 3, 7, dtype=torch.double) for _ in range(2 if kind == "lstm" else 1))
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_ref, s_ref = ref(xa, h0 if kind == "lstm" else h0[0])
    out, s = mine(xb, h0)
    s_ref = s_ref if kind == "lstm" else (s_ref,)
    torch.testing.assert_close(out, out_ref, atol=1e-6, rtol=0)
    for a, b in zip(s, s_ref):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    w = torch.randn_like(out)
    (out_ref * w).sum().add(s_ref[-1].sum()).backward()
    (out * w).sum().add(s[-1].sum()).backward()
    torch.testing.assert_close(xb.grad, xa.grad, atol=1e-6, rtol=0)
    for (name, p), q in zip(ref.named_parameters(), mine.rnn.parameters()):
        torch.testing.assert_close(q.grad, p.grad, atol=1e-6, rtol=0, msg=name)


@pytest.mark.parametrize("kind,cell", [("rnn", rnn_cell), ("lstm", lstm_cell), ("gru", gru_cell)])
def test_one_step_equals_torch_cell(kind, cell):
    torch.manual_seed(1)
    ref = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}[kind](4, 6)
    x, h, c = torch.randn(2, 4), torch.randn(2, 6), torch.randn(2, 6)
    state = (h, c) if kind == "lstm" else (h,)
    got = cell(x, state, ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh)
    want = ref(x, state) if kind == "lstm" else (ref(x, h),)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_the_switch_keeps_the_weights():
    torch.manual_seed(0)
    fast = Recurrent("lstm", 3, 4, 2, cells="torch")
    slow = Recurrent("lstm", 3, 4, 2, cells="handwritten")
    slow.load_state_dict(fast.state_dict())  # the same parameter names: one checkpoint runs both ways
    x = torch.randn(2, 5, 3)
    torch.testing.assert_close(slow(x)[0], fast(x)[0], atol=1e-6, rtol=0)


def test_unroll_applies_dropout_between_layers_only_in_training():
    torch.manual_seed(0)
    m = nn.GRU(3, 4, 2, batch_first=True, dropout=0.5).eval()
    x, h0 = torch.randn(2, 5, 3), (torch.zeros(2, 2, 4),)
    torch.testing.assert_close(unroll(m, "gru", x, h0)[0], m(x, h0[0])[0], atol=1e-6, rtol=0)
    m.train()
    assert not torch.allclose(unroll(m, "gru", x, h0)[0], unroll(m, "gru", x, h0)[0])
