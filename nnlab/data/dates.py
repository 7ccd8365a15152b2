"""A generated translation task (many-to-many, different lengths): dates written in many human formats ->
ISO 8601 (``2024-03-07``), made with the standard library's ``datetime``; and a padded pair loader."""
from __future__ import annotations

import datetime as dt
import random
from typing import Any, Iterator

import torch

from nnlab.data.text import CharVocab

FORMATS = ("%d %B %Y", "%B %d, %Y", "%A, %B %d, %Y", "%d %b %Y", "%b %d %Y", "%d.%m.%Y", "%Y/%m/%d",
           "%a %d %b %Y", "%d %B, %Y", "%A %d %B %Y")
SPECIALS = ("<pad>", "<s>", "</s>")  # ids 0, 1, 2
PAD, BOS, EOS = 0, 1, 2


def human_dates(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` (human, ISO) pairs for days of 1950-2049 in random formats, lower-cased half the time."""
    rng = random.Random(seed)
    start, days = dt.date(1950, 1, 1), (dt.date(2050, 1, 1) - dt.date(1950, 1, 1)).days
    pairs = []
    for _ in range(n):
        d = start + dt.timedelta(days=rng.randrange(days))
        text = d.strftime(rng.choice(FORMATS))
        pairs.append((text.lower() if rng.random() < 0.5 else text, d.isoformat()))
    return pairs


def pair_vocab(pairs: list[tuple[str, str]]) -> CharVocab:
    """The special tokens, then every character of both sides (one vocabulary for source and target)."""
    return CharVocab([*SPECIALS, *sorted({c for a, b in pairs for c in a + b})])


def encode_pairs(pairs: list[tuple[str, str]], vocab: CharVocab) -> tuple[torch.Tensor, torch.Tensor]:
    """Sources left-padded (N, S) (the encoder's last step is real text) and targets ``<s> ... </s>`` right-padded
    (N, T + 2)."""
    src = [vocab.encode(a) for a, _ in pairs]
    tgt = [torch.cat([torch.tensor([BOS]), vocab.encode(b), torch.tensor([EOS])]) for _, b in pairs]
    s_len, t_len = max(map(len, src)), max(map(len, tgt))
    x = torch.stack([torch.cat([torch.full((s_len - len(s),), PAD), s]) for s in src])
    y = torch.stack([torch.cat([t, torch.full((t_len - len(t),), PAD)]) for t in tgt])
    return x, y


class PairLoader:
    """Batches ``(src (B, S), tgt (B, T))`` from memory, reshuffled every epoch from a saved generator."""

    def __init__(self, src: torch.Tensor, tgt: torch.Tensor, batch: int, shuffle: bool = False, seed: int = 0) -> None:
        self.src, self.tgt, self.batch_size, self.shuffle = src, tgt, batch, shuffle
        self.generator = torch.Generator().manual_seed(seed)
        self._epoch_start, self._skip = self.generator.get_state(), 0

    def __len__(self) -> int:
        return -(-len(self.src) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        self._epoch_start = self.generator.get_state()
        order = torch.randperm(len(self.src), generator=self.generator) if self.shuffle else torch.arange(len(self.src))
        skip, self._skip = self._skip, 0
        for b in range(skip, len(self)):
            idx = order[b * self.batch_size: (b + 1) * self.batch_size]
            yield self.src[idx], self.tgt[idx]

    def state_dict(self) -> dict[str, Any]:
        return {"epoch_start": self._epoch_start, "current": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any], resume_batch: int = 0) -> None:
        self.generator.set_state(state["epoch_start"] if resume_batch else state["current"])
        self._skip = resume_batch
