"""The caption mode of ``task: sequence`` (one-to-many): digit scenes (Detection I's generator) with captions
generated from their boxes and labels, a CNN encoder + recurrent decoder trained with teacher forcing on one of
each scene's references at random, and BLEU-1..4 (sacrebleu, 0-100, corpus level) and exact match of the decoded
captions against all of them (greedy; beam search too when ``sequence.beam`` > 1)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from nnlab.config import Config
from nnlab.data.boxes.sources import load_box_splits
from nnlab.data.captions import END, PAD, START, WordVocab, describe, encode_captions
from nnlab.data.loader import TensorLoader
from nnlab.data.preprocess import Preprocess
from nnlab.errors import ConfigError, DataError
from nnlab.metrics.bleu import corpus_bleu, exact_match
from nnlab.models.sequence.seq2seq import EncoderDecoder, beam_search, greedy
from nnlab.tasks.base import TaskData
from nnlab.tasks.detect import split_boxes
from nnlab.tasks.seq2seq import seq2seq_loss


@dataclass
class CaptionSet:
    """Images uint8 (N, C, H, W) and each one's R references: ids (N, R, T) and the sentences."""

    images: torch.Tensor
    captions: torch.Tensor
    references: list[list[str]]

    def __len__(self) -> int:
        return len(self.images)


def load_captions(cfg: Config) -> TaskData:
    """Generated scenes (train and test from different seeds, validation drawn from train), their captions, the
    word vocabulary of the training captions (``sequence.min_count``) and the preprocessing."""
    d, s = cfg.data, cfg.sequence.scenes
    if d.dataset != "scenes":
        raise ConfigError(f"sequence.mode caption reads data.dataset 'scenes' (got {d.dataset!r})")
    boxes = load_box_splits("scenes", path=d.path, image_size=d.image_size, seed=cfg.seed, n=s.n, n_test=s.n_test,
                            digits=s.digits, scale=s.scale, clutter=s.clutter)
    seed = cfg.seed if d.split_seed is None else d.split_seed
    boxes = split_boxes(boxes, d.val_fraction, 0.0, d.train_size, seed)
    if not len(boxes["train"]):
        raise DataError("the caption dataset has no training images")
    refs = {k: [describe(t["boxes"], [ds.classes[i] for i in t["labels"].tolist()], ds.images.shape[-1])
                for t in ds.targets] for k, ds in boxes.items()}
    vocab = WordVocab.from_texts([c for r in refs["train"] for c in r], cfg.sequence.min_count)
    sets = {k: CaptionSet(ds.images, encode_captions(refs[k], vocab), refs[k]) for k, ds in boxes.items() if len(ds)}
    pre = Preprocess.fit(sets["train"].images, "squash", d.normalize)
    return TaskData(sets, {"kind": "caption", "vocab": vocab.words, "preprocess": pre.to_dict(),
                           "max_len": sets["train"].captions.shape[-1] - 1,  # words + <end>
                           "test_is_val": False, "images": {k: len(v) for k, v in sets.items()}})


def caption_loader(cfg: Config, data: TaskData, split: str, train: bool) -> TensorLoader:
    """Batches ``(images (B, C, H, W) normalized, references (B, R, T))``, shuffled from a saved generator; training
    drops an epoch's last incomplete batch (the captioner's batch norm needs more than one image)."""
    part: CaptionSet = data.split(split)
    pre = Preprocess(**data.info["preprocess"])
    batch = len(part) if cfg.train.batch_size == "full" else min(cfg.train.batch_size, len(part))
    return TensorLoader(part, pre, batch, shuffle=train, seed=cfg.seed, drop_last=train, targets=part.captions)


def caption_loss(model: nn.Module, images: torch.Tensor, references: torch.Tensor,
                 pick: torch.Tensor | None = None) -> torch.Tensor:
    """Teacher forcing on one reference per image (B, R, T): ``pick`` (B,), else one at random (the global
    generator, which checkpoints save, so a resumed run draws the same)."""
    if pick is None:
        pick = torch.randint(references.shape[1], (len(references),))
    target = references[torch.arange(len(references), device=references.device), pick.to(references.device)]
    return seq2seq_loss(model, images, target)  # (B, T) -> nats per word


class CaptionEvaluator:
    """Teacher-forced loss (nats per word; image i against its reference i mod R) and the decoded captions'
    BLEU-1..4 and exact match: by beam search when ``beam`` > 1 (plus ``greedy_bleu4`` / ``greedy_exact_acc``),
    else greedy. References are read through the vocabulary (a word under ``min_count`` is ``<unk>``)."""

    def __init__(self, vocab: WordVocab, max_len: int, beam: int) -> None:
        self.vocab, self.max_len, self.beam = vocab, max_len, beam
        self.nats, self.words, self.count = 0.0, 0, 0
        self.greedy: list[str] = []
        self.beamed: list[str] = []
        self.references: list[list[str]] = []

    def update(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        x, refs = batch  # (B, C, H, W), (B, R, T)
        pick = (torch.arange(len(refs)) + self.count) % refs.shape[1]
        target = refs[torch.arange(len(refs)), pick.to(refs.device)]
        n_words = int((target[:, 1:] != PAD).sum())
        self.nats += float(caption_loss(model, x, refs, pick)) * n_words
        self.words += n_words
        self.greedy += [self.vocab.decode(o) for o in greedy(model, x, self.max_len, START).tolist()]
        if self.beam > 1:
            self.beamed += [self.vocab.decode(beam_search(model, img, self.beam, self.max_len, START, END))
                            for img in x]
        self.references += [[self.vocab.decode(r) for r in rs] for rs in refs.tolist()]
        self.count += len(x)

    @property
    def captions(self) -> list[str]:
        """The decoded captions the metrics are of: beam search's when it ran, else greedy's."""
        return self.beamed if self.beam > 1 else self.greedy

    def compute(self) -> dict[str, float]:
        metrics = {"loss": self.nats / self.words if self.words else float("nan"),
                   **corpus_bleu(self.captions, self.references),
                   "exact_acc": exact_match(self.captions, self.references)}
        if self.beam > 1:
            metrics["greedy_bleu4"] = corpus_bleu(self.greedy, self.references)["bleu4"]
            metrics["greedy_exact_acc"] = exact_match(self.greedy, self.references)
        return metrics


def write_captions(evaluator: CaptionEvaluator, path: Path) -> Path:
    """Each image's decoded caption and its references, one image per line (tab separated)."""
    lines = [f"{i}\t{c}\t{' | '.join(refs)}" for i, (c, refs) in
             enumerate(zip(evaluator.captions, evaluator.references))]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("image\tcaption\treferences\n" + "".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def caption_images(model: EncoderDecoder, info: dict[str, Any], paths: Sequence[str | Path], beam: int,
                   device: torch.device) -> list[dict[str, Any]]:
    """Each image file's caption by beam search (beam 1: greedy)."""
    vocab, pre = WordVocab(info["vocab"]), Preprocess(**info["preprocess"])
    images = pre.load_files(paths).to(device)  # (N, C, H, W)
    return [{"image": str(p), "caption": vocab.decode(beam_search(model, x, beam, info["max_len"], START, END))}
            for p, x in zip(paths, images)]
