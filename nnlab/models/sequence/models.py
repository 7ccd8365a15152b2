"""Sequence models over the recurrent stack: tokens (B, T) or feature vectors (B, T, F) in, per-step class
scores (B, T, K) out. A language model reads every step's scores (many-to-many, equal lengths); a sequence
classifier reads the last step's (many-to-one). Builders register in ``SEQUENCE_MODELS``."""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from nnlab.models.sequence.cells import State
from nnlab.models.sequence.recurrent import Kind, Recurrent
from nnlab.registry import Registry

SEQUENCE_MODELS: Registry[nn.Module] = Registry("sequence model")

Cells = Literal["torch", "handwritten"]


class SequenceModel(nn.Module):
    """Input layer (an embedding for token ids, nothing for feature vectors), recurrent stack, linear head."""

    def __init__(self, kind: Kind, num_classes: int, vocab_size: int | None, in_features: int | None,
                 hidden: int, layers: int, embed: int, dropout: float, cells: Cells, forget_bias: float = 0.0) -> None:
        super().__init__()
        if (vocab_size is None) == (in_features is None):
            raise ValueError("give exactly one of vocab_size (token inputs) and in_features (vector inputs)")
        self.embed = nn.Embedding(vocab_size, embed) if vocab_size is not None else None
        width = embed if vocab_size is not None else in_features
        self.rnn = Recurrent(kind, width, hidden, layers, dropout, cells, forget_bias)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, num_classes)

    def initial_state(self, batch: int, device: torch.device | None = None) -> State:
        return self.rnn.initial_state(batch, device)

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """x: token ids (B, T) or vectors (B, T, F); returns scores (B, T, K) and the final state."""
        inputs = self.embed(x) if self.embed is not None else x  # (B, T, E)
        out, state = self.rnn(inputs, state)  # (B, T, H)
        return self.head(self.drop(out)), state


def _build(kind: Kind, num_classes: int, vocab_size: int | None, in_features: int | None, hidden: int,
           layers: int, embed: int, dropout: float, cells: Cells) -> SequenceModel:
    return SequenceModel(kind, num_classes, vocab_size, in_features, hidden, layers, embed, dropout, cells)


@SEQUENCE_MODELS.register("rnn")
def rnn(*, num_classes: int, vocab_size: int | None = None, in_features: int | None = None, hidden: int = 256,
        layers: int = 1, embed: int = 64, dropout: float = 0.0, cells: Cells = "torch") -> SequenceModel:
    """Vanilla tanh RNN (notes: one set of weights reused at every step)."""
    return _build("rnn", num_classes, vocab_size, in_features, hidden, layers, embed, dropout, cells)


@SEQUENCE_MODELS.register("lstm")
def lstm(*, num_classes: int, vocab_size: int | None = None, in_features: int | None = None, hidden: int = 256,
         layers: int = 1, embed: int = 64, dropout: float = 0.0, cells: Cells = "torch",
         forget_bias: float = 0.0) -> SequenceModel:
    """LSTM (gates i, f, o, g and a cell that is never exposed); ``forget_bias`` 1 starts the cell remembering."""
    return SequenceModel("lstm", num_classes, vocab_size, in_features, hidden, layers, embed, dropout, cells,
                         forget_bias)


@SEQUENCE_MODELS.register("gru")
def gru(*, num_classes: int, vocab_size: int | None = None, in_features: int | None = None, hidden: int = 256,
        layers: int = 1, embed: int = 64, dropout: float = 0.0, cells: Cells = "torch") -> SequenceModel:
    """GRU (reset and update gates, no separate cell)."""
    return _build("gru", num_classes, vocab_size, in_features, hidden, layers, embed, dropout, cells)
