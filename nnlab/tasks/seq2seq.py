"""The seq2seq mode of ``task: sequence`` (many-to-many, different lengths): generated dates in human formats
-> ISO 8601, an encoder-decoder trained with teacher forcing, exact match by greedy decoding, beam search in
predict and report."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nnlab.config import Config
from nnlab.data.dates import BOS, EOS, PAD, encode_pairs, human_dates, pair_vocab
from nnlab.data.text import CharVocab
from nnlab.models.sequence.seq2seq import Seq2Seq, beam_search, greedy
from nnlab.tasks.base import TaskData


def load_pairs(cfg: Config) -> TaskData:
    """``sequence.pairs`` generated pairs, split in order into train / val / test (test: val when its fraction is 0)."""
    s = cfg.sequence
    pairs = human_dates(s.pairs, cfg.seed)
    vocab = pair_vocab(pairs)
    src, tgt = encode_pairs(pairs, vocab)  # (N, S), (N, T)
    n = len(pairs)
    n_test, n_val = int(n * s.test_fraction), max(1, int(n * s.val_fraction))
    cuts = {"train": (0, n - n_val - n_test), "val": (n - n_val - n_test, n - n_test), "test": (n - n_test, n)}
    splits = {k: (src[a:b], tgt[a:b]) for k, (a, b) in cuts.items() if b > a}
    splits.setdefault("test", splits["val"])
    return TaskData(splits, {"kind": "seq2seq", "vocab": vocab.chars, "max_len": tgt.shape[1] - 1,
                             "test_is_val": n_test == 0, "pairs": {k: len(v[0]) for k, v in splits.items()}})


def seq2seq_loss(model: nn.Module, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
    """Teacher forcing: the decoder reads ``<s> y_1 .. y_{T-1}`` and predicts ``y_1 .. </s>``; padding ignored."""
    scores = model(src, tgt[:, :-1])  # (B, T-1, V)
    return F.cross_entropy(scores.float().flatten(0, 1), tgt[:, 1:].flatten(), ignore_index=PAD)


def _strip(tokens: list[int]) -> list[int]:
    """Tokens up to (without) the first ``</s>``."""
    return tokens[: tokens.index(EOS)] if EOS in tokens else tokens


class Seq2SeqEvaluator:
    """Token loss (teacher-forced, nats per target token) and exact match of greedy decoding (``exact_acc``)."""

    def __init__(self, max_len: int) -> None:
        self.max_len, self.nats, self.tokens, self.exact, self.count = max_len, 0.0, 0, 0, 0

    def update(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        src, tgt = batch
        n_tok = int((tgt[:, 1:] != PAD).sum())
        self.nats += float(seq2seq_loss(model, src, tgt)) * n_tok
        self.tokens += n_tok
        out = greedy(model, src, self.max_len, BOS).tolist()
        self.exact += sum(_strip(o) == _strip(t[1:]) for o, t in zip(out, tgt.tolist()))
        self.count += len(src)

    def compute(self) -> dict[str, float]:
        if not self.count:
            return {"loss": float("nan"), "exact_acc": float("nan")}
        return {"loss": self.nats / self.tokens, "exact_acc": self.exact / self.count}


def translate(model: Seq2Seq, info: dict[str, Any], lines: list[str], beam: int,
              device: torch.device) -> list[dict[str, Any]]:
    """Each source line's output by beam search (characters outside the vocabulary raise, naming them)."""
    vocab = CharVocab(info["vocab"])
    results = []
    for line in lines:
        out = beam_search(model, vocab.encode(line).to(device), beam, info["max_len"], BOS, EOS)
        results.append({"source": line, "output": vocab.decode(out)})
    return results
