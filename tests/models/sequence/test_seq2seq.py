"""Encoder-decoder decoding: beam search with beam 1 equals greedy decoding; beams stop at </s>."""
import torch

from nnlab.models.sequence import SEQUENCE_MODELS
from nnlab.models.sequence.seq2seq import beam_search, greedy

BOS, EOS = 1, 2


def _model(kind="gru"):
    torch.manual_seed(0)
    return SEQUENCE_MODELS.build("seq2seq", num_classes=9, vocab_size=9, hidden=12, embed=6, kind=kind).eval()


def test_beam_1_equals_greedy():
    m = _model()
    src = torch.randint(3, 9, (6, 5))
    g = greedy(m, src, 8, BOS).tolist()
    for s, out in zip(src, g):
        want = out[: out.index(EOS)] if EOS in out else out
        assert beam_search(m, s, 1, 8, BOS, EOS) == want


def test_wider_beams_return_tokens_without_the_frame():
    m = _model("lstm")
    src = torch.randint(3, 9, (5,))
    out = beam_search(m, src, 4, 8, BOS, EOS)
    assert len(out) <= 8 and EOS not in out and BOS not in out


def test_teacher_forced_scores_shape():
    m = _model("rnn")
    assert m(torch.randint(0, 9, (2, 5)), torch.randint(0, 9, (2, 7))).shape == (2, 7, 9)
