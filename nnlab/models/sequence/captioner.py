"""Image captioning (notes: one-to-many; Karpathy & Fei-Fei 2015, Vinyals et al. 2015): a zoo CNN with its last
FC layer removed summarizes the image in a feature vector v, and a recurrent decoder writes the caption one word at
a time until ``<end>``.

The notes' recurrence with the image: h_t = f(W_xh x_t + W_hh h_{t-1} + W_ih v), a third weight matrix W_ih that
brings v into every step's hidden state. Here the decoder's first layer reads [x_t; v], so the columns of its
input matrix (``weight_ih_l0``) that multiply v are W_ih; the cells (torch's module or the hand-written ones) are
the sequence models' ``Recurrent``. ``encode`` / ``decode`` are the encoder-decoder interface that greedy decoding
and beam search (``seq2seq.py``) drive.

v is standardized (``BatchNorm1d``) before it enters: a freshly initialized CNN's features hardly differ between
images (their spread across a batch was ~2% of their mean here), so the decoder learned the captions' language
alone and the encoder's gradient stayed tiny (one-digit scenes: exact match at chance after 3 epochs without it,
70% with it).
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from nnlab.errors import ConfigError
from nnlab.models.cnn.base import Classifier
from nnlab.models.registry import MODELS
from nnlab.models.sequence.cells import State
from nnlab.models.sequence.models import SEQUENCE_MODELS, Cells
from nnlab.models.sequence.recurrent import Kind, Recurrent


def headless(name: str, in_chans: int, input_size: Sequence[int], **options: object) -> tuple[Classifier, int]:
    """Zoo classifier ``name`` with its final Linear replaced by the identity, and the width of what it now
    returns (the penultimate features: e.g. 84 for lenet5, 512 for resnet18), measured by a dry run."""
    body = MODELS.build(name, num_classes=1, in_chans=in_chans, input_size=tuple(input_size), **options)
    if not isinstance(body, Classifier):
        raise ConfigError(f"model.encoder {name!r} is not a CNN classifier; use one of the zoo's CNNs "
                          "(lenet5, alexnet, vgg11, resnet20, resnet18, ...)")
    parent_path, _, leaf = body.head_path.rpartition(".")
    setattr(body.get_submodule(parent_path) if parent_path else body, leaf, nn.Identity())  # the last FC removed
    was_training = body.training
    body.eval()
    with torch.no_grad():
        width = body(torch.zeros(1, in_chans, *input_size)).shape[1]
    body.train(was_training)
    return body, int(width)


class Captioner(nn.Module):
    """``forward(images (B, C, H, W), tokens_in (B, T)) -> scores (B, T, V)`` (teacher forcing);
    ``encode(images)`` -> the decoder's start state (zeros) plus v; ``decode(tokens, state)`` one or more steps."""

    def __init__(self, encoder: Classifier, features: int, vocab_size: int, embed: int, hidden: int, layers: int,
                 kind: Kind, dropout: float, cells: Cells, forget_bias: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.feature_norm = nn.BatchNorm1d(features)
        self.embed = nn.Embedding(vocab_size, embed)
        self.decoder = Recurrent(kind, embed + features, hidden, layers, dropout, cells, forget_bias)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab_size)

    def encode(self, images: torch.Tensor) -> State:
        v = self.feature_norm(self.encoder(images))  # (B, F): the last hidden layer's features, standardized
        return (*self.decoder.initial_state(len(images), images.device), v)

    def decode(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        *carried, v = state
        x = self.embed(tokens)  # (B, T, E)
        x = torch.cat([x, v[:, None].expand(-1, x.shape[1], -1).to(x.dtype)], 2)  # (B, T, E + F): [x_t; v]
        out, new = self.decoder(x, tuple(carried))  # (B, T, H)
        return self.head(self.drop(out)), (*new, v)

    def forward(self, images: torch.Tensor, tokens_in: torch.Tensor) -> torch.Tensor:
        return self.decode(tokens_in, self.encode(images))[0]


@SEQUENCE_MODELS.register("captioner")
def captioner(*, num_classes: int, vocab_size: int | None = None, in_features: int | None = None,
              in_chans: int = 3, input_size: Sequence[int] = (64, 64), encoder: str = "lenet5", embed: int = 32,
              hidden: int = 256, layers: int = 1, kind: Kind = "lstm", dropout: float = 0.0, cells: Cells = "torch",
              forget_bias: float = 0.0, encoder_options: dict[str, Any] | None = None) -> Captioner:
    """A zoo CNN ``encoder`` (last FC removed; built with ``encoder_options``, e.g. ``{norm: batch}``) + a ``kind``
    (rnn|lstm|gru) decoder over a word vocabulary (``num_classes`` == ``vocab_size``); ``sequence.mode: caption``."""
    if vocab_size is None or in_features is not None or num_classes != vocab_size:
        raise ValueError("captioner writes the words of one vocabulary (sequence.mode caption)")
    body, width = headless(encoder, in_chans, input_size, **(encoder_options or {}))
    return Captioner(body, width, vocab_size, embed, hidden, layers, kind, dropout, cells, forget_bias)
