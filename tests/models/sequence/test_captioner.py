"""The captioner: the CNN's last FC removed, the image entering every step through its own block of the decoder's
input matrix, hand-written cells on the same weights, beam 1 == greedy."""
import pytest
import torch

from nnlab.models.sequence import SEQUENCE_MODELS
from nnlab.models.sequence.captioner import headless
from nnlab.models.sequence.seq2seq import beam_search, greedy


def _model(**kw):
    torch.manual_seed(0)
    return SEQUENCE_MODELS.build("captioner", num_classes=9, vocab_size=9, in_chans=3, input_size=(28, 28),
                                 hidden=12, embed=6, **kw).eval()


def test_the_encoder_is_the_classifier_without_its_last_fc():
    body, width = headless("lenet5", 3, (28, 28))
    assert width == 84 and type(body.classifier[-1]).__name__ == "Identity"
    assert body(torch.zeros(2, 3, 28, 28)).shape == (2, 84)


def test_forward_shape_and_every_parameter_learns():
    model = _model().train()
    scores = model(torch.randn(2, 3, 28, 28), torch.randint(0, 9, (2, 5)))
    assert scores.shape == (2, 5, 9)
    scores.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_the_image_enters_only_through_its_own_weight_matrix():
    model = _model()
    tokens, a, b = torch.randint(0, 9, (1, 4)), torch.randn(1, 3, 28, 28), torch.randn(1, 3, 28, 28)
    assert not torch.allclose(model(a, tokens), model(b, tokens))
    with torch.no_grad():
        model.decoder.rnn.weight_ih_l0[:, 6:] = 0  # W_ih: the columns that read v (after the 6 of the embedding)
    assert torch.equal(model(a, tokens), model(b, tokens))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_handwritten_cells_give_the_modules_numbers(kind):
    model, x, tokens = _model(kind=kind), torch.randn(2, 3, 28, 28), torch.randint(0, 9, (2, 4))
    expected = model(x, tokens)
    model.decoder.cells = "handwritten"
    assert torch.allclose(model(x, tokens), expected, atol=1e-6, rtol=1e-5)  # (torch.testing imports for seconds)


def test_beam_one_is_greedy_and_decoding_uses_the_image():
    model, x = _model(), torch.randn(3, 3, 28, 28)
    out = greedy(model, x, 6, 1).tolist()
    for image, seq in zip(x, out):
        expected = seq[: seq.index(2)] if 2 in seq else seq
        assert beam_search(model, image, 1, 6, 1, 2) == expected


def test_the_builder_wants_one_word_vocabulary():
    with pytest.raises(ValueError, match="vocabulary"):
        SEQUENCE_MODELS.build("captioner", num_classes=9, vocab_size=8)
