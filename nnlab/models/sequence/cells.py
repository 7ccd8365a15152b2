"""Recurrent cells written from the notes' equations (the teaching version), and a multi-layer unroll.

The weights use ``torch.nn.RNN`` / ``LSTM`` / ``GRU``'s layout (``weight_ih_l{k}`` stacks the gates' rows), so a
hand-written network runs on the very parameters of a torch module and both give the same numbers
(tests/models/sequence/test_cells.py checks forward and gradients to 1e-6).

- RNN (notes): h_t = tanh(W_xh x_t + W_hh h_{t-1} + b); one set of weights reused at every step.
- LSTM (notes; Hochreiter & Schmidhuber 1997): i, f, o = sigma(.), g = tanh(.) from [x_t, h_{t-1}];
  c_t = f * c_{t-1} + i * g (the cell, never exposed); h_t = o * tanh(c_t). torch stacks the gates i, f, g, o.
- GRU (Cho et al. 2014): r, z = sigma(.); n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); h_t = (1 - z) n + z h.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

Tensor = torch.Tensor
State = tuple[Tensor, ...]  # (h,) for RNN and GRU, (h, c) for LSTM; each (B, H)


def rnn_cell(x: Tensor, state: State, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> State:
    """One step of the vanilla (tanh) RNN: x (B, I), h (B, H) -> (h_t,)."""
    (h,) = state
    return (torch.tanh(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh),)  # (B, H)


def lstm_cell(x: Tensor, state: State, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> State:
    """One LSTM step: the four gates from one matrix product each, then the cell and the hidden state."""
    h, c = state
    gates = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh  # (B, 4H): i, f, g, o
    i, f, g, o = gates.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + i * g  # (B, H): the cell state, additive through time
    return o * torch.tanh(c), c


def gru_cell(x: Tensor, state: State, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> State:
    """One GRU step: reset and update gates; the candidate sees the reset-gated previous state."""
    (h,) = state
    xr, xz, xn = (x @ w_ih.T + b_ih).chunk(3, dim=1)  # (B, H) each
    hr, hz, hn = (h @ w_hh.T + b_hh).chunk(3, dim=1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    return ((1 - z) * n + z * h,)


Cell = Callable[[Tensor, State, Tensor, Tensor, Tensor, Tensor], State]
CELLS: dict[str, Cell] = {"rnn": rnn_cell, "lstm": lstm_cell, "gru": gru_cell}


def unroll(module: nn.RNNBase, kind: str, x: Tensor, state: State) -> tuple[Tensor, State]:
    """Run ``module``'s layers with the hand-written cell: x (B, T, I), state tensors (L, B, H) ->
    outputs (B, T, H) and the final state (L, B, H). Dropout between layers as ``module.dropout``."""
    cell = CELLS[kind]
    finals: list[State] = []
    for layer in range(module.num_layers):
        w = [getattr(module, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        s: State = tuple(t[layer] for t in state)
        outs = []
        for t in range(x.shape[1]):
            s = cell(x[:, t], s, *w)
            outs.append(s[0])
        x = torch.stack(outs, 1)  # (B, T, H)
        if module.dropout and module.training and layer < module.num_layers - 1:
            x = nn.functional.dropout(x, module.dropout, True)
        finals.append(s)
    return x, tuple(torch.stack(parts) for parts in zip(*finals))
