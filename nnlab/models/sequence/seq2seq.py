"""Encoder-decoder (Sutskever et al. 2014; notes: many-to-many with different lengths): the encoder's final
state starts the decoder, which is trained with teacher forcing and decodes greedily or by beam search."""
from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from nnlab.models.sequence.cells import State
from nnlab.models.sequence.models import SEQUENCE_MODELS, Cells
from nnlab.models.sequence.recurrent import Kind, Recurrent


class Seq2Seq(nn.Module):
    """One token embedding shared by both sides; ``forward(src (B, S), tgt_in (B, T)) -> scores (B, T, V)``."""

    def __init__(self, vocab_size: int, hidden: int, layers: int, embed: int, kind: Kind, cells: Cells) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed)
        self.encoder = Recurrent(kind, embed, hidden, layers, cells=cells)
        self.decoder = Recurrent(kind, embed, hidden, layers, cells=cells)
        self.head = nn.Linear(hidden, vocab_size)

    def encode(self, src: torch.Tensor) -> State:
        return self.encoder(self.embed(src))[1]  # (L, B, H) each

    def decode(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        out, state = self.decoder(self.embed(tokens), state)  # (B, T, H)
        return self.head(out), state

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        return self.decode(tgt_in, self.encode(src))[0]


class EncoderDecoder(Protocol):
    """What greedy decoding and beam search drive: ``Seq2Seq``, and the ``Captioner`` (its source is an image)."""

    def encode(self, src: torch.Tensor) -> State: ...

    def decode(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]: ...


@SEQUENCE_MODELS.register("seq2seq")
def seq2seq(*, num_classes: int, vocab_size: int | None = None, in_features: int | None = None, hidden: int = 128,
            layers: int = 1, embed: int = 32, kind: Kind = "gru", cells: Cells = "torch") -> Seq2Seq:
    """Encoder-decoder over one token vocabulary (``num_classes`` == ``vocab_size``); ``kind`` rnn|lstm|gru."""
    if vocab_size is None or in_features is not None or num_classes != vocab_size:
        raise ValueError("seq2seq reads and writes tokens of one vocabulary (sequence.mode seq2seq)")
    return Seq2Seq(vocab_size, hidden, layers, embed, kind, cells)


@torch.no_grad()
def greedy(model: EncoderDecoder, src: torch.Tensor, max_len: int, bos: int) -> torch.Tensor:
    """The most likely token at every step, for a batch of sources (B, S) (or images) -> (B, max_len)."""
    state = model.encode(src)
    token = torch.full((len(src), 1), bos, dtype=torch.long, device=src.device)
    out = []
    for _ in range(max_len):
        scores, state = model.decode(token, state)  # (B, 1, V)
        token = scores[:, -1].argmax(-1, keepdim=True)  # (B, 1)
        out.append(token)
    return torch.cat(out, 1)


@torch.no_grad()
def beam_search(model: EncoderDecoder, src: torch.Tensor, beam: int, max_len: int, bos: int, eos: int) -> list[int]:
    """The highest total log-probability sequence (without ``</s>``) for one source (S,) (or image), keeping ``beam``
    hypotheses per step; beam 1 is greedy decoding."""
    beams: list[tuple[float, list[int], State, bool]] = [(0.0, [bos], model.encode(src[None]), False)]
    for _ in range(max_len):
        candidates = []
        for logp, seq, state, done in beams:
            if done:
                candidates.append((logp, seq, state, True))
                continue
            scores, new = model.decode(torch.tensor([[seq[-1]]], device=src.device), state)
            top = torch.log_softmax(scores[0, -1].float(), -1).topk(beam)
            for lp, tok in zip(top.values.tolist(), top.indices.tolist()):
                candidates.append((logp + lp, seq + [tok], new, tok == eos))
        beams = sorted(candidates, key=lambda c: -c[0])[:beam]
        if all(b[3] for b in beams):
            break
    seq = beams[0][1][1:]
    return seq[: seq.index(eos)] if eos in seq else seq
