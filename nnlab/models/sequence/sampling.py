"""Generating from a trained sequence model: warm the state up on a prompt, then draw one token at a time
from softmax(scores / temperature) and feed it back (temperature 0: always the most likely token)."""
from __future__ import annotations

import torch
from torch import nn


def next_token(scores: torch.Tensor, temperature: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """One token id from scores (V,): argmax at temperature 0, else a draw from softmax(scores / temperature)."""
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (got {temperature})")
    if temperature == 0:
        return scores.argmax()
    probs = torch.softmax(scores.float().cpu() / temperature, dim=0)  # (V,)
    return torch.multinomial(probs, 1, generator=generator)[0].to(scores.device)


@torch.inference_mode()
def sample(model: nn.Module, prompt: torch.Tensor, length: int, temperature: float = 1.0,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """``length`` token ids (length,) that continue ``prompt`` (P,), P >= 1. ``model(x, state) -> (scores
    (B, T, V), state)`` as the ``SEQUENCE_MODELS`` are."""
    was_training = model.training
    model.eval()
    scores, state = model(prompt[None])  # (1, P, V): the prompt sets the state up
    out = []
    for _ in range(length):
        token = next_token(scores[0, -1], temperature, generator)
        out.append(token)
        scores, state = model(token.view(1, 1), state)  # (1, 1, V)
    model.train(was_training)
    return torch.stack(out) if out else prompt.new_zeros(0)
