"""Recurrent networks (notes: RNN, LSTM, truncated backpropagation through time).

Three shapes from the notes: ``mode: lm``, many-to-many with equal lengths, a character language model whose
hidden state is carried across the windows of B parallel streams and detached after each (the gradient stops at
the window's start; the state restarts from zeros at every epoch); and ``mode: rows``, many-to-one, images read
row by row (28 steps of 28 pixels for MNIST) and classified from the last step; and ``mode: seq2seq``,
many-to-many with different lengths (``nnlab/tasks/seq2seq.py``); and ``mode: caption``, one-to-many, digit scenes
described in words (``nnlab/tasks/caption.py``). Loss in nats per step.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nnlab.config import Config
from nnlab.data.dates import PairLoader
from nnlab.data.captions import WordVocab
from nnlab.data.text import CharVocab, StreamLoader, read_text, split_corpus, sums_text
from nnlab.engine.trainer import Logs
from nnlab.errors import ConfigError, UserError
from nnlab.models import transfer
from nnlab.models.sequence import SEQUENCE_MODELS
from nnlab.models.sequence.cells import State
from nnlab.models.sequence.sampling import sample as sample_ids
from nnlab.tasks.base import TASKS, Indices, Task, TaskData
from nnlab.tasks.caption import CaptionEvaluator, caption_images, caption_loader, caption_loss, load_captions, \
    write_captions
from nnlab.tasks.classify import Classify, ClassifyEvaluator, image_loader, load_classification_data
from nnlab.tasks.seq2seq import Seq2SeqEvaluator, load_pairs, seq2seq_loss, translate

TEXT_DATASETS = ("text", "sums")  # a UTF-8 file at data.path; the generated corpus of sums


class Carry:
    """The hidden state carried from one window to the next, detached: truncated BPTT."""

    def __init__(self) -> None:
        self.state: State | None = None

    def start(self, x: torch.Tensor, first: bool) -> State | None:
        """The state a window starts from: None (zeros) at an epoch's first window, else the last one kept."""
        if first or self.state is None:
            return None
        return tuple(s.to(x.device) for s in self.state)

    def keep(self, state: State) -> None:
        self.state = tuple(s.detach() for s in state)  # no gradient flows past the window's start


class CarriedLoader:
    """The training streams plus the carried state in the saved loader state, so that a run stopped mid-epoch
    resumes from the very state it stopped with (bit-identical weights)."""

    def __init__(self, streams: StreamLoader, carry: Carry) -> None:
        self.streams, self.carry = streams, carry
        self.batch_size = streams.batch_size

    def __len__(self) -> int:
        return len(self.streams)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, bool]]:
        return iter(self.streams)

    def state_dict(self) -> dict[str, Any]:
        carried = None if self.carry.state is None else [s.cpu() for s in self.carry.state]
        return {**self.streams.state_dict(), "carry": carried}

    def load_state_dict(self, state: dict[str, Any], resume_batch: int = 0) -> None:
        self.streams.load_state_dict(state, resume_batch)
        saved = state.get("carry")
        self.carry.state = tuple(saved) if resume_batch and saved is not None else None


class LanguageModelEvaluator:
    """Mean negative log-likelihood in nats per character (``loss``) and in bits (``bpc``), carrying the state
    across a split's windows as training does."""

    def __init__(self) -> None:
        self.carry, self.nats, self.count = Carry(), None, 0  # type: Carry, Any, int

    def update(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor, bool]) -> None:
        x, y, first = batch
        scores, state = model(x, self.carry.start(x, first))  # (B, T, V)
        self.carry.keep(state)
        nll = F.cross_entropy(scores.float().flatten(0, 1), y.flatten(), reduction="sum").detach().double()
        self.nats = nll if self.nats is None else self.nats + nll
        self.count += y.numel()

    def compute(self) -> dict[str, float]:
        loss = float(self.nats) / self.count if self.count else float("nan")
        return {"loss": loss, "bpc": loss / math.log(2)}


def rows(x: torch.Tensor) -> torch.Tensor:
    """Images (B, C, H, W) as sequences of H rows of C * W values (B, H, C * W)."""
    return x.permute(0, 2, 1, 3).flatten(2)


def last_step(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """The many-to-one classifier: images -> the scores of the last row's step (B, K)."""
    return lambda x: model(rows(x))[0][:, -1]


class RowsEvaluator(ClassifyEvaluator):
    """Classification metrics of the last step's scores."""

    def update(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        super().update(last_step(model), batch)


def load_text(cfg: Config) -> str:
    """The configured text: a file (``data.dataset: text``) or generated sums, cut to ``sequence.max_chars``."""
    if cfg.data.dataset not in TEXT_DATASETS:
        raise ConfigError(f"config key 'data.dataset' {cfg.data.dataset!r} is not text; sequence.mode lm reads "
                          f"{' or '.join(TEXT_DATASETS)}")
    s = cfg.sequence
    text = read_text(cfg.data.path) if cfg.data.dataset == "text" else sums_text(s.generated_chars, cfg.seed)
    return text[: s.max_chars] if s.max_chars else text


@TASKS.register("sequence")
class SequenceTask(Task):
    """Recurrent networks over sequences: a character language model, or images read row by row."""

    name = "sequence"
    models = SEQUENCE_MODELS
    data_args = ("num_classes", "vocab_size", "in_features", "in_chans", "input_size")
    monitor, mode = "val_loss", "min"
    trains_through_forward = False  # seq2seq calls the encoder and decoder: gradients averaged after backward

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.carry = Carry()
        self.num_classes = self.max_len = 0
        self.words: WordVocab | None = None  # caption: the word vocabulary

    @property
    def lm(self) -> bool:
        return self.cfg.sequence.mode == "lm"

    def validate(self) -> None:
        for mode, model in (("seq2seq", "seq2seq"), ("caption", "captioner")):
            if (self.cfg.sequence.mode == mode) != (self.cfg.model.name == model):
                raise ConfigError(f"sequence.mode {mode} goes with model.name {model} (and only it)")
        if self.cfg.sequence.mode in ("lm", "seq2seq") and self.cfg.train.batch_size == "full":
            raise ConfigError("config key 'train.batch_size' is the number of parallel streams of a language "
                              "model: give a number, not 'full'")
        if self.lm and self.cfg.data.dataset not in TEXT_DATASETS:
            raise ConfigError(f"config key 'data.dataset' {self.cfg.data.dataset!r} is not text; sequence.mode lm "
                              f"reads {' or '.join(TEXT_DATASETS)} (mode rows reads images)")

    def load_data(self, progress: bool = True, train_indices: Indices = None, val_indices: Indices = None) -> TaskData:
        if self.cfg.sequence.mode in ("seq2seq", "caption") and (train_indices is not None or val_indices is not None):
            raise UserError(f"sequence.mode {self.cfg.sequence.mode} cannot train on chosen samples")
        if self.cfg.sequence.mode == "seq2seq":
            return load_pairs(self.cfg)
        if self.cfg.sequence.mode == "caption":
            return load_captions(self.cfg)
        if not self.lm:
            data = load_classification_data(self.cfg, progress, train_indices, val_indices)
            pre = data.info["preprocess"]
            return TaskData(data.splits, {**data.info, "kind": "rows", "steps": pre["height"],
                                          "in_features": pre["channels"] * pre["width"]})
        if train_indices is not None or val_indices is not None:
            raise UserError("a language model's text is split in order; it cannot train on chosen samples")
        text = load_text(self.cfg)
        vocab = CharVocab.from_text(text)
        s = self.cfg.sequence
        splits = split_corpus(vocab.encode(text), s.val_fraction, s.test_fraction)
        test_is_val = "test" not in splits
        if test_is_val:  # the common split has no test part: the test metrics are the validation text's
            splits["test"] = splits["val"]
        return TaskData(splits, {"kind": "lm", "vocab": vocab.chars, "test_is_val": test_is_val,
                                 "characters": {k: len(v) for k, v in splits.items()}})

    def build_model(self, info: dict[str, Any]) -> nn.Module:
        if info["kind"] in ("lm", "seq2seq", "caption"):
            sizes = {"num_classes": len(info["vocab"]), "vocab_size": len(info["vocab"])}
            if info["kind"] == "caption":
                pre = info["preprocess"]
                sizes.update(in_chans=pre["channels"], input_size=(pre["height"], pre["width"]))
        else:
            sizes = {"num_classes": len(info["classes"]), "in_features": info["in_features"]}
        return SEQUENCE_MODELS.build(self.cfg.model.name, **sizes, **transfer.builder_options(self.cfg.model.args))

    def setup(self, model: nn.Module, info: dict[str, Any]) -> None:
        self.num_classes = len(info["classes"] if info["kind"] == "rows" else info["vocab"])
        self.max_len = info.get("max_len", 0)
        self.words = WordVocab(info["vocab"]) if info["kind"] == "caption" else None
        self.carry = Carry()

    def loader(self, data: TaskData, split: str, train: bool = False) -> Any:
        if self.cfg.sequence.mode == "caption":
            return caption_loader(self.cfg, data, split, train)
        if self.cfg.sequence.mode == "seq2seq":
            return PairLoader(*data.split(split), self.cfg.train.batch_size, shuffle=train, seed=self.cfg.seed)
        if not self.lm:
            return image_loader(self.cfg, data, split, train)
        ids, batch = data.split(split), self.cfg.train.batch_size
        if not train:  # a short split is read in fewer streams rather than refused
            return StreamLoader(ids, max(1, min(batch, len(ids) - 1)), min(self.cfg.sequence.window, len(ids) - 1))
        return CarriedLoader(StreamLoader(ids, batch, self.cfg.sequence.window), self.carry)

    def training_step(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, Logs]:
        if self.cfg.sequence.mode == "seq2seq":
            return seq2seq_loss(model, *batch), {}
        if self.cfg.sequence.mode == "caption":
            return caption_loss(model, *batch), {}
        if not self.lm:
            x, y = batch
            scores = last_step(model)(x)  # (B, K)
            return F.cross_entropy(scores.float(), y), {"acc": (scores.argmax(1) == y).float().mean()}
        x, y, first = batch  # (B, T) each
        scores, state = model(x, self.carry.start(x, first))  # (B, T, V)
        self.carry.keep(state)
        return F.cross_entropy(scores.float().flatten(0, 1), y.flatten()), {}  # nats per character

    def evaluator(self) -> LanguageModelEvaluator | RowsEvaluator | Seq2SeqEvaluator | CaptionEvaluator:
        if self.words is not None:
            return CaptionEvaluator(self.words, self.max_len, self.cfg.sequence.beam)
        if self.cfg.sequence.mode == "seq2seq":
            return Seq2SeqEvaluator(self.max_len)
        if self.lm:
            return LanguageModelEvaluator()
        return RowsEvaluator(nn.CrossEntropyLoss(), self.num_classes, min(5, self.num_classes))

    def report(self, evaluator: Any, info: dict[str, Any], out_dir: Path, split: str, title: str) -> dict[str, Any]:
        """Rows: the classification report (per class, confusion matrix); a language model: the split's size."""
        if info["kind"] == "rows":
            return Classify.report(self, evaluator, info, out_dir, split, title)  # uses only its arguments
        if info["kind"] == "seq2seq":
            return {"count": evaluator.count, "unit": "pairs", "test_is_val": info.get("test_is_val", False)}
        if info["kind"] == "caption":
            beam = self.cfg.sequence.beam
            return {"count": evaluator.count, "unit": "images", "bleu_scale": "0-100, corpus level (sacrebleu)",
                    "decoding": f"beam {beam}" if beam > 1 else "greedy",
                    "captions_tsv": str(write_captions(evaluator, Path(out_dir) / f"{split}_captions.tsv"))}
        return {"count": evaluator.count, "unit": "characters", "test_is_val": info.get("test_is_val", False)}

    def example_input(self, info: dict[str, Any], folder: Path) -> Path:
        if info["kind"] in ("rows", "caption"):
            return super().example_input(info, folder)
        path = Path(folder) / "prompt.txt"
        chars = [c for c in info["vocab"] if len(c) == 1]  # no special tokens
        path.write_text("".join(chars[-3:]), encoding="utf-8")
        return path

    def predict(self, model: nn.Module, info: dict[str, Any], paths: Sequence[str | Path], device: torch.device,
                topk: int = 5, length: int | None = None, temperature: float | None = None,
                seed: int = 0) -> list[dict[str, Any]]:
        """Rows: top-k classes of each image. Caption: each image's caption (beam search). A language model: each
        text file is a prompt, continued by ``length`` sampled characters."""
        if info["kind"] == "rows":
            return Classify.predict(self, last_step(model), info, paths, device, topk)  # uses only its arguments
        if info["kind"] == "caption":
            return caption_images(model, info, paths, self.cfg.sequence.beam, device)
        if info["kind"] == "seq2seq":  # each line of each file is a source
            return [{"text": str(p), "translations": translate(model, info, read_text(p).splitlines(),
                                                               self.cfg.sequence.beam, device)} for p in paths]
        return [{"text": str(p), **self.sample(model, info, device, read_text(p), length, temperature, seed)}
                for p in paths]

    def sample(self, model: nn.Module, info: dict[str, Any], device: torch.device, prompt: str,
               length: int | None = None, temperature: float | None = None, seed: int = 0) -> dict[str, Any]:
        """``length`` characters (default ``sequence.sample_length``) after ``prompt`` at ``temperature``
        (default ``sequence.temperature``; 0: the most likely character every step), seeded."""
        if info["kind"] != "lm":
            raise UserError("only a language model run (sequence.mode lm) samples text")
        length = self.cfg.sequence.sample_length if length is None else length
        temperature = self.cfg.sequence.temperature if temperature is None else temperature
        if length < 1 or temperature < 0:
            raise UserError(f"--length must be >= 1 and --temperature >= 0 (got {length}, {temperature})")
        if not prompt:
            raise UserError("the prompt is empty: give at least one character")
        vocab = CharVocab(info["vocab"])
        ids = vocab.encode(prompt).to(device)
        out = sample_ids(model, ids, length, temperature, torch.Generator().manual_seed(seed))
        return {"prompt": prompt, "sample": vocab.decode(out.cpu()), "temperature": temperature}
