"""Captions for images (notes: one-to-many, image captioning): a word vocabulary and captions generated from a
digit scene's content (its boxes and labels), several phrasings per scene.

A scene's references are ``PHRASINGS`` sentences that all say what it shows, for example "a 3 left of a 7",
"a 7 right of a 3" and "two digits: 3 left of 7". Training reads one of them at random each time; BLEU and exact
match compare a generated caption with all of them. The spatial words come from the boxes' centres: the axis
along which the digits spread more (left to right, or top to bottom) orders them.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Sequence

import torch

SPECIALS = ("<pad>", "<start>", "<end>", "<unk>")
PAD, START, END, UNK = 0, 1, 2, 3
PHRASINGS = 3  # references per scene
NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TOKEN = re.compile(r"\w+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-case words and punctuation marks: "Two digits: 3, 7" -> [two, digits, :, 3, ,, 7]."""
    return _TOKEN.findall(text.lower())


def detokenize(words: Sequence[str]) -> str:
    """Words joined by spaces, punctuation attached to the word before it (the inverse of ``tokenize`` on
    captions written that way)."""
    out: list[str] = []
    for w in words:
        if out and len(w) == 1 and not (w.isalnum() or w == "_"):  # a punctuation mark
            out[-1] += w
        else:
            out.append(w)
    return " ".join(out)


class WordVocab:
    """Words <-> ids: the special tokens first, then the words that occur at least ``min_count`` times in the
    training captions (sorted); any other word reads as ``<unk>``."""

    def __init__(self, words: Sequence[str]) -> None:
        if tuple(words[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a word vocabulary starts with {SPECIALS}")
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def from_texts(cls, texts: Sequence[str], min_count: int = 1) -> WordVocab:
        counts = Counter(w for t in texts for w in tokenize(t))
        return cls([*SPECIALS, *sorted(w for w, n in counts.items() if n >= min_count and w not in SPECIALS)])

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, text: str) -> list[int]:
        """``<start>``, the words' ids (``<unk>`` for words not in the vocabulary), ``<end>``."""
        return [START, *(self.index.get(w, UNK) for w in tokenize(text)), END]

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """The words up to the first ``<end>`` (``<start>`` and padding skipped)."""
        words = []
        for i in (int(i) for i in ids):
            if i == END:
                break
            if i not in (PAD, START):
                words.append(self.words[i])
        return detokenize(words)


def encode_captions(references: Sequence[Sequence[str]], vocab: WordVocab) -> torch.Tensor:
    """Each image's references as ``<start> words <end>`` right-padded ids (N, R, T); every image has R."""
    ids = [[vocab.encode(c) for c in refs] for refs in references]
    if len({len(r) for r in ids}) > 1:
        raise ValueError("every image needs the same number of references")
    length = max(len(c) for r in ids for c in r)
    out = torch.full((len(ids), len(ids[0]), length), PAD, dtype=torch.long)
    for i, refs in enumerate(ids):
        for r, c in enumerate(refs):
            out[i, r, : len(c)] = torch.tensor(c)
    return out


def _a(digit: str) -> str:
    return f"an {digit}" if digit == "8" else f"a {digit}"


def _listed(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " and " + items[-1]


def describe(boxes: torch.Tensor, labels: Sequence[str], size: int, large: float = 1 / 3) -> list[str]:
    """``PHRASINGS`` captions of one scene from its boxes (n, 4) (x1, y1, x2, y2) and class names; a digit
    is "large" when its box is taller than ``large`` of the image side ``size``."""
    n = len(labels)
    if n == 0:
        return ["no digits", "an empty scene", "nothing"]
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2  # (n, 2): x, y
    if n == 1:
        height = float(boxes[0, 3] - boxes[0, 1])
        return [_a(labels[0]), f"one digit: {labels[0]}",
                f"a {'large' if height > large * size else 'small'} {labels[0]}"]
    spread = centres.max(0).values - centres.min(0).values  # (2,)
    axis = 0 if spread[0] >= spread[1] else 1  # order along the wider spread
    d = [labels[i] for i in centres[:, axis].argsort(stable=True).tolist()]
    if n == 2:
        ahead, behind = ("left of", "right of") if axis == 0 else ("above", "below")
        return [f"{_a(d[0])} {ahead} {_a(d[1])}", f"{_a(d[1])} {behind} {_a(d[0])}",
                f"two digits: {d[0]} {ahead} {d[1]}"]
    order = "from left to right" if axis == 0 else "from top to bottom"
    count = NUMBERS[n] if n < len(NUMBERS) else str(n)
    return [f"{count} digits: {_listed(d)} {order}", f"{_listed([_a(x) for x in d])} {order}",
            f"{' '.join(d)} {order}"]
