"""Text for sequence models: a character vocabulary, the corpus split, and the stream batching of truncated
backpropagation through time (char-rnn style).

The corpus is cut into B parallel streams (B contiguous slices, one per batch row); each batch is the next
window of T steps of every stream, so the hidden state at the end of one window is the right start of the next
(the task carries it across windows and detaches it). One epoch covers every character of the first
B * L + 1 exactly once (L = (N - 1) // B; the fewer than B left over at the end are dropped).
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from nnlab.errors import DataError, UserError


class CharVocab:
    """Characters <-> integer ids (sorted, so a vocabulary saved as its characters rebuilds identically)."""

    def __init__(self, chars: Sequence[str]) -> None:
        self.chars = list(chars)
        self.index = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        """Ids (N,); characters outside the vocabulary raise one message that names them."""
        unknown = sorted(set(text) - self.index.keys())
        if unknown:
            raise UserError(f"{len(unknown)} character(s) not in the model's vocabulary: "
                            f"{', '.join(repr(c) for c in unknown)} (it knows {len(self)} characters)")
        return torch.tensor([self.index[c] for c in text], dtype=torch.long)

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        return "".join(self.chars[int(i)] for i in ids)


def read_text(path: str | Path | None) -> str:
    """The whole text file (UTF-8); a missing, unreadable or empty file is a ``DataError``."""
    if path is None:
        raise DataError("data.path must name a text file for data.dataset 'text'")
    p = Path(path)
    if not p.is_file():
        raise DataError(f"text file not found: {p}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{p} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    if not text:
        raise DataError(f"{p} is empty: a language model needs some text")
    return text


def sums_text(chars: int, seed: int = 0) -> str:
    """A generated corpus without any file: lines ``a + b = c`` (two-digit sums), at least ``chars`` long."""
    rng, lines, n = random.Random(seed), [], 0
    while n < chars:
        a, b = rng.randrange(100), rng.randrange(100)
        lines.append(f"{a} + {b} = {a + b}\n")
        n += len(lines[-1])
    return "".join(lines)


def split_corpus(ids: torch.Tensor, val_fraction: float, test_fraction: float = 0.0) -> dict[str, torch.Tensor]:
    """Contiguous splits: the first ``1 - val - test`` for training, then validation, then test (the common
    Shakespeare split is the first 90% / the last 10%)."""
    n = len(ids)
    n_test, n_val = int(n * test_fraction), int(n * val_fraction)
    splits = {"train": ids[: n - n_val - n_test], "val": ids[n - n_val - n_test: n - n_test]}
    if n_test:
        splits["test"] = ids[n - n_test:]
    return {k: v for k, v in splits.items() if len(v)}


class StreamLoader:
    """Windows of T steps of B parallel streams: batches ``(x (B, T), y (B, T), first)`` where y is x shifted by
    one character and ``first`` marks an epoch's first window (the carried state restarts there). The last
    window of an epoch may be shorter than T."""

    def __init__(self, ids: torch.Tensor, batch: int, window: int) -> None:
        n = len(ids) - 1  # targets
        if window > n:
            raise DataError(f"window of {window} steps is longer than the text it cuts ({len(ids)} characters); "
                            "lower sequence.window")
        if n < batch:
            raise DataError(f"{batch} streams need at least {batch + 1} characters (the text has {len(ids)}); "
                            "lower train.batch_size")
        self.batch_size, self.window = batch, window
        self.steps = n // batch  # L: steps per stream
        used = batch * self.steps
        self.x = ids[:used].view(batch, self.steps)  # (B, L)
        self.y = ids[1: used + 1].view(batch, self.steps)  # (B, L)
        self._skip = 0

    def __len__(self) -> int:
        return -(-self.steps // self.window)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, bool]]:
        skip, self._skip = self._skip, 0
        for k in range(skip, len(self)):
            lo, hi = k * self.window, (k + 1) * self.window
            yield self.x[:, lo:hi], self.y[:, lo:hi], k == 0  # (B, T) each

    def state_dict(self) -> dict[str, Any]:
        """The stream layout; the order is fixed, so the interrupted batch is all a resume needs."""
        return {"batch": self.batch_size, "window": self.window, "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any], resume_batch: int = 0) -> None:
        """Continue the interrupted epoch at ``resume_batch``; a different layout cannot resume exactly."""
        if [state["batch"], state["window"], state["steps"]] != [self.batch_size, self.window, self.steps]:
            raise UserError("the saved run cut its text into different streams or windows; it cannot be resumed "
                            "exactly (use --extend instead)")
        self._skip = resume_batch
