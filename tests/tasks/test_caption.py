"""sequence.mode caption: scenes become images with references, the loss picks a reference, the evaluator scores
decoded captions against all references, bad configs, and `nnlab predict` printing the caption."""
import pytest
import torch
from torch import nn

from nnlab.cli.main import main
from nnlab.config import from_dict
from nnlab.data.boxes import scenes
from nnlab.data.captions import PAD, WordVocab
from nnlab.errors import ConfigError
from nnlab.tasks.caption import CaptionEvaluator, caption_loss, load_captions
from nnlab.tasks.seq2seq import seq2seq_loss
from nnlab.tasks.sequence import SequenceTask

_CAPTION = {"task": "sequence", "data": {"dataset": "scenes", "image_size": [32, 32], "val_fraction": 0.25},
            "sequence": {"mode": "caption", "scenes": {"n": 8, "n_test": 3}},
            "model": {"name": "captioner", "hidden": 8, "embed": 4}, "train": {"batch_size": 4}}


def test_scenes_become_images_with_references_from_their_boxes(monkeypatch):
    monkeypatch.setattr(scenes, "shared_places", lambda *a: [])  # scikit-learn's 8x8 digits: no MNIST to read
    data = load_captions(from_dict(_CAPTION))
    assert {k: len(v) for k, v in data.splits.items()} == {"train": 6, "val": 2, "test": 3}
    vocab = WordVocab(data.info["vocab"])
    train = data.split("train")
    assert train.images.shape == (6, 3, 32, 32) and train.captions.shape[:2] == (6, 3)
    assert [[vocab.decode(c) for c in refs] for refs in train.captions] == train.references
    assert data.info["max_len"] == train.captions.shape[-1] - 1 and data.info["kind"] == "caption"


class Oracle(nn.Module):
    """Knows each image's caption (the image's first pixel is its row in ``captions``) and scores it highest."""

    def __init__(self, captions: torch.Tensor, vocab: int) -> None:
        super().__init__()
        self.captions, self.vocab = captions, vocab  # (N, T)

    def encode(self, images):
        return images[:, 0, 0, 0].long(), torch.zeros(len(images), dtype=torch.long)

    def decode(self, tokens, state):
        rows, t = state
        steps = t[:, None] + torch.arange(1, tokens.shape[1] + 1)  # (B, T): the positions to predict
        nxt = self.captions[rows[:, None], steps.clamp(max=self.captions.shape[1] - 1)]
        return 10 * nn.functional.one_hot(nxt, self.vocab).float(), (rows, t + tokens.shape[1])

    def forward(self, images, tokens):
        return self.decode(tokens, self.encode(images))[0]


def _oracle_batch():
    refs = [["a 3 left of a 7", "a 7 right of a 3"], ["a 5", "one digit: 5"]]
    vocab = WordVocab.from_texts([c for r in refs for c in r])
    ids = [[vocab.encode(c) for c in r] for r in refs]
    caps = torch.full((2, 2, 8), PAD)
    for i, r in enumerate(ids):
        for k, c in enumerate(r):
            caps[i, k, : len(c)] = torch.tensor(c)
    images = torch.arange(2.0).view(2, 1, 1, 1).expand(2, 3, 4, 4)
    return vocab, images, caps, refs


@pytest.mark.parametrize("beam", [1, 2])
def test_the_evaluator_scores_decoded_captions_against_every_reference(beam):
    vocab, images, caps, refs = _oracle_batch()
    ev = CaptionEvaluator(vocab, 7, beam)
    ev.update(Oracle(caps[:, 1], len(vocab)), (images, caps))  # it says each image's second reference
    m = ev.compute()
    assert m["exact_acc"] == 1.0 and m["bleu4"] == pytest.approx(100.0) and ev.references == refs
    assert ev.captions == [refs[0][1], refs[1][1]] and ("greedy_bleu4" in m) == (beam > 1)


def test_the_loss_reads_the_picked_reference_or_one_at_random():
    vocab, images, caps, _ = _oracle_batch()
    model = Oracle(caps[:, 0], len(vocab))
    assert float(caption_loss(model, images, caps, torch.tensor([0, 0]))) < 1e-3
    assert caption_loss(model, images, caps, torch.tensor([1, 0])) == seq2seq_loss(
        model, images, torch.stack([caps[0, 1], caps[1, 0]]))
    torch.manual_seed(3)
    drawn = caption_loss(model, images, caps)
    torch.manual_seed(3)
    assert caption_loss(model, images, caps) == drawn  # the global generator: a resumed run draws the same


@pytest.mark.parametrize("change, match", [({"model": {"name": "lstm"}}, "captioner"),
                                           ({"data": {"dataset": "digits"}}, "scenes")])
def test_bad_configs_say_what_goes_together(change, match):
    task = SequenceTask(from_dict({**_CAPTION, **change}))
    with pytest.raises(ConfigError, match=match):
        task.validate()
        task.load_data()


def test_predict_prints_each_images_caption(monkeypatch, capsys):
    import nnlab

    monkeypatch.setattr(nnlab, "predict", lambda *a, **k: [{"image": "scene.png", "caption": "a 3 left of a 7"}])
    assert main(["predict", "RUN", "scene.png"]) == 0
    assert capsys.readouterr().out == "scene.png\n  a 3 left of a 7\n"


def test_eval_prints_bleu_and_where_the_captions_are(monkeypatch, capsys):
    import nnlab

    report = {"task": "sequence", "split": "test", "loss": 0.5, "bleu4": 61.25, "exact_acc": 0.5, "count": 4,
              "unit": "images", "captions_tsv": "runs/x/eval/test_captions.tsv"}
    monkeypatch.setattr(nnlab, "evaluate", lambda *a, **k: report)
    assert main(["eval", "RUN"]) == 0
    out = capsys.readouterr().out
    assert "test: 4 images" in out and "bleu4 61.2500" in out and "captions TSV: runs/x/eval/test_captions.tsv" in out
