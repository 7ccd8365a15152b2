"""Characters/s of training a character LSTM: a plain PyTorch loop (the issue's anchor: 2-layer LSTM 512 wide,
windows of 128, batch 32, Adam 2e-3, clipping 1.0) vs nnlab's trainer + sequence task with torch's module vs
with the hand-written cells (nnlab/models/sequence/cells.py) on the same weights, in one process.

    python benchmarks/sequence_throughput.py [--windows 6] [--hidden 512] [--text ../shared/datasets/tinyshakespeare/input.txt]
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn

from nnlab.cli.main import _tune_malloc
from nnlab.config import from_dict
from nnlab.data.text import CharVocab, StreamLoader, read_text
from nnlab.engine.trainer import Trainer
from nnlab.tasks.sequence import CarriedLoader, SequenceTask


class PlainLSTM(nn.Module):
    def __init__(self, vocab: int, hidden: int, embed: int) -> None:
        super().__init__()
        self.embed, self.rnn = nn.Embedding(vocab, embed), nn.LSTM(embed, hidden, 2, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        out, state = self.rnn(self.embed(x), state)
        return self.head(out), state


def plain_loop(ids: torch.Tensor, vocab: int, args: argparse.Namespace) -> float:
    """The hand-written loop: carry and detach the state, Adam, clip 1.0; characters per second."""
    model = PlainLSTM(vocab, args.hidden, 64)
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    state, chars, t0 = None, 0, 0.0
    for i, (x, y, _) in enumerate(StreamLoader(ids, args.batch, args.window)):
        if i == 1:  # the first window warms up
            t0, chars = time.perf_counter(), 0
        scores, state = model(x, state)
        state = tuple(s.detach() for s in state)
        loss = F.cross_entropy(scores.flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        chars += y.numel()
    return chars / (time.perf_counter() - t0)


def nnlab_loop(ids: torch.Tensor, vocab: CharVocab, cells: str, args: argparse.Namespace) -> float:
    cfg = from_dict({"task": "sequence", "data": {"dataset": "text"}, "sequence": {"window": args.window},
                     "model": {"name": "lstm", "hidden": args.hidden, "layers": 2, "embed": 64, "cells": cells},
                     "train": {"batch_size": args.batch, "clip_norm": 1.0}})
    task, info = SequenceTask(cfg), {"kind": "lm", "vocab": vocab.chars}
    model = task.build_model(info)
    task.setup(model, info)
    trainer = Trainer(model, task, torch.optim.Adam(model.parameters(), 2e-3), epochs=1,
                      device=torch.device("cpu"), clip_norm=1.0, progress=False)
    warm = ids[: args.batch * args.window + 1]
    trainer.train_one_epoch(CarriedLoader(StreamLoader(warm, args.batch, args.window), task.carry))
    t0 = time.perf_counter()
    trainer.train_one_epoch(CarriedLoader(StreamLoader(ids, args.batch, args.window), task.carry))
    return (len(ids) - 1) // args.batch * args.batch / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--text", default="../shared/datasets/tinyshakespeare/input.txt")
    p.add_argument("--windows", type=int, default=6)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--window", type=int, default=128)
    args = p.parse_args()
    _tune_malloc()
    text = read_text(args.text)
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text[: args.batch * args.window * (args.windows + 1) + 1])
    torch.manual_seed(0)
    plain = plain_loop(ids, len(vocab), args)
    rows = [("plain PyTorch loop", plain), ("nnlab, cells: torch", nnlab_loop(ids, vocab, "torch", args)),
            ("nnlab, cells: handwritten", nnlab_loop(ids, vocab, "handwritten", args))]
    print(f"threads {torch.get_num_threads()}  hidden {args.hidden}  batch {args.batch}  window {args.window}")
    for name, rate in rows:
        print(f"{name:28s} {rate:9.0f} chars/s  ({rate / plain:.2f}x the plain loop)")


if __name__ == "__main__":
    main()
