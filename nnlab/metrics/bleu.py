"""Caption metrics: corpus-level BLEU-1..4 by sacrebleu (Papineni et al. 2002; Post 2018) and exact match.

BLEU-n is the brevity penalty times the geometric mean of the clipped 1..n-gram precisions, on sacrebleu's scale
of 0-100, over the whole corpus (not an average of sentence scores), with sacrebleu's default ``13a`` tokenizer
and ``exp`` smoothing. Each hypothesis has its own list of references (any number, the same for all).
"""
from __future__ import annotations

from typing import Sequence

ORDERS = (1, 2, 3, 4)


def _streams(references: Sequence[Sequence[str]]) -> list[list[str]]:
    """Per-hypothesis reference lists (N, R) -> sacrebleu's R reference streams of N strings each."""
    counts = {len(r) for r in references}
    if len(counts) != 1 or 0 in counts:
        raise ValueError("every hypothesis needs the same, non-zero number of references")
    return [list(stream) for stream in zip(*references)]


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """``bleu1`` .. ``bleu4`` (0-100) of ``hypotheses`` (N,) against ``references`` (N, R)."""
    from sacrebleu.metrics import BLEU  # imported where used: only captioning needs it

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference lists")
    if not hypotheses:
        return {f"bleu{n}": float("nan") for n in ORDERS}
    streams = _streams(references)
    return {f"bleu{n}": float(BLEU(max_ngram_order=n).corpus_score(list(hypotheses), streams).score)
            for n in ORDERS}


def exact_match(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """The fraction of hypotheses equal to one of their references (0-1)."""
    if not hypotheses:
        return float("nan")
    return sum(h in refs for h, refs in zip(hypotheses, references, strict=True)) / len(hypotheses)
