"""Sampling: temperature -> 0 is argmax (greedy decoding); a seeded generator repeats; temperature spreads."""
import pytest
import torch

from nnlab.models.sequence import SEQUENCE_MODELS
from nnlab.models.sequence.sampling import next_token, sample


def _model():
    torch.manual_seed(0)
    return SEQUENCE_MODELS.build("gru", num_classes=6, vocab_size=6, hidden=8)


def _greedy(model, prompt, length):
    ids = prompt.tolist()
    for _ in range(length):  # re-reads the whole sequence every step: the plain definition of greedy
        scores, _ = model(torch.tensor([ids]))
        ids.append(int(scores[0, -1].argmax()))
    return ids[len(prompt):]


def test_temperature_to_zero_equals_argmax():
    m, prompt = _model(), torch.tensor([1, 2, 3])
    greedy = _greedy(m, prompt, 12)
    assert sample(m, prompt, 12, temperature=0.0).tolist() == greedy
    g = torch.Generator().manual_seed(0)
    assert sample(m, prompt, 12, temperature=1e-4, generator=g).tolist() == greedy


def test_seeded_draws_repeat_and_high_temperature_varies():
    m, prompt = _model(), torch.tensor([0])
    a = sample(m, prompt, 30, 1.0, torch.Generator().manual_seed(3))
    b = sample(m, prompt, 30, 1.0, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    hot = sample(m, prompt, 60, 50.0, torch.Generator().manual_seed(3))
    assert len(set(hot.tolist())) > 3  # near-uniform over 6 tokens


def test_next_token_rejects_negative_temperature():
    with pytest.raises(ValueError, match=">= 0"):
        next_token(torch.zeros(3), -1.0)
