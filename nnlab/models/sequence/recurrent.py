"""A stack of recurrent layers that runs either torch's fused module (fast, cuDNN on GPU) or the hand-written
cells of ``cells.py`` on the same parameters; ``cells`` switches between them without changing a weight."""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from nnlab.models.sequence.cells import State, unroll

Kind = Literal["rnn", "lstm", "gru"]
_MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class Recurrent(nn.Module):
    """``kind`` layers of width ``hidden``, batch first; ``forward(x (B, T, I), state) -> (out (B, T, H),
    state)`` where the state is a tuple of (L, B, H) tensors: (h,) or (h, c) for the LSTM."""

    def __init__(self, kind: Kind, input_size: int, hidden: int, layers: int = 1, dropout: float = 0.0,
                 cells: Literal["torch", "handwritten"] = "torch", forget_bias: float = 0.0) -> None:
        """``forget_bias``: the LSTM's forget-gate bias at initialization (Jozefowicz et al. 2015 use 1: the cell
        keeps its content, and its gradient, from the start)."""
        super().__init__()
        if kind not in _MODULES:
            raise ValueError(f"unknown recurrent kind {kind!r} (rnn, lstm or gru)")
        if cells not in ("torch", "handwritten"):
            raise ValueError(f"cells must be 'torch' or 'handwritten' (got {cells!r})")
        self.kind, self.cells, self.hidden, self.layers = kind, cells, hidden, layers
        self.rnn = _MODULES[kind](input_size, hidden, layers, batch_first=True,
                                  dropout=dropout if layers > 1 else 0.0)
        if forget_bias and kind == "lstm":
            with torch.no_grad():
                for layer in range(layers):  # gates i, f, g, o: f is the second quarter
                    getattr(self.rnn, f"bias_ih_l{layer}")[hidden: 2 * hidden] = forget_bias
                    getattr(self.rnn, f"bias_hh_l{layer}")[hidden: 2 * hidden] = 0.0

    def initial_state(self, batch: int, device: torch.device | None = None) -> State:
        """Zeros: the state at the start of every stream."""
        z = torch.zeros(self.layers, batch, self.hidden, device=device)
        return (z, z.clone()) if self.kind == "lstm" else (z,)

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        if state is None:
            state = self.initial_state(x.shape[0], x.device)
        state = tuple(s.to(x.dtype) for s in state)
        if self.cells == "handwritten":
            return unroll(self.rnn, self.kind, x, state)
        out, new = self.rnn(x, state if self.kind == "lstm" else state[0])
        return out, (tuple(new) if self.kind == "lstm" else (new,))
