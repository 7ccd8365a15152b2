"""Autoencoders (notes: unsupervised learning): an encoder squeezes the image into a small code z, a symmetric
decoder reconstructs it; trained with an L2 (or Bernoulli) reconstruction loss on unlabelled images. After
training the decoder is thrown away and the encoder's features can initialise a supervised model.

``kind: mlp``: fully connected layers ``hidden`` -> ``latent`` and back. ``kind: conv``: stride-2 convolutions
(channels ``hidden``) down to a ``latent``-d code and transposed convolutions back up. Both return the
reconstruction's logits (B, C, H, W); the task applies the sigmoid.
"""
from __future__ import annotations

import torch
from torch import nn

from nnlab.errors import ConfigError
from nnlab.models.layers import activation as make_activation, check_choice
from nnlab.models.generative.registry import GENERATIVE


class Autoencoder(nn.Module):
    """``encode`` (B, C, H, W) -> (B, latent); ``decode`` (B, latent) -> logits (B, C, H, W)."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, latent: int) -> None:
        super().__init__()
        self.encoder, self.decoder, self.latent = encoder, decoder, latent

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


Coder = tuple[nn.Sequential, nn.Sequential]


def mlp_coder(in_chans: int, size: tuple[int, int], hidden: list[int], code: int, latent: int, act: str) -> Coder:
    """Encoder (B, C, H, W) -> (B, code) and decoder (B, latent) -> (B, C, H, W) of fully connected layers
    (``code`` = ``latent`` for an autoencoder, 2 x ``latent`` for a VAE's mean and log-variance)."""
    widths = [in_chans * size[0] * size[1], *hidden]
    enc: list[nn.Module] = [nn.Flatten()]
    for a, b in zip(widths, widths[1:]):
        enc += [nn.Linear(a, b), make_activation(act)]
    enc.append(nn.Linear(widths[-1], code))
    dec: list[nn.Module] = []
    back = [latent, *reversed(widths[1:])]
    for a, b in zip(back, back[1:]):
        dec += [nn.Linear(a, b), make_activation(act)]
    dec += [nn.Linear(back[-1], widths[0]), nn.Unflatten(1, (in_chans, *size))]
    return nn.Sequential(*enc), nn.Sequential(*dec)


def conv_coder(in_chans: int, size: tuple[int, int], hidden: list[int], code: int, latent: int, act: str) -> Coder:
    """Convolutional encoder / decoder pair (widths as in ``mlp_coder``). Each stage halves H and W (3x3,
    stride 2, padding 1); the decoder mirrors it with output padding so that odd sizes come back exactly."""
    sizes = [tuple(size)]
    for _ in hidden:
        h, w = sizes[-1]
        sizes.append(((h + 1) // 2, (w + 1) // 2))
    if min(sizes[-1]) < 1 or min(sizes[-2]) < 2:
        raise ConfigError(f"model.hidden has {len(hidden)} stride-2 stages; a {size[0]}x{size[1]} input "
                          f"allows at most {max(1, min(size).bit_length() - 1)}")
    chans = [in_chans, *hidden]
    enc: list[nn.Module] = []
    for a, b in zip(chans, chans[1:]):
        enc += [nn.Conv2d(a, b, 3, 2, 1), make_activation(act)]
    flat = chans[-1] * sizes[-1][0] * sizes[-1][1]
    enc += [nn.Flatten(), nn.Linear(flat, code)]
    dec: list[nn.Module] = [nn.Linear(latent, flat), make_activation(act), nn.Unflatten(1, (chans[-1], *sizes[-1]))]
    for i in range(len(hidden), 0, -1):
        (h_out, w_out), (h_in, w_in) = sizes[i - 1], sizes[i]
        pad = (h_out - (2 * h_in - 1), w_out - (2 * w_in - 1))  # 0 or 1: the stride-2 conv rounded up
        dec.append(nn.ConvTranspose2d(chans[i], chans[i - 1], 3, 2, 1, output_padding=pad))
        if i > 1:
            dec.append(make_activation(act))
    return nn.Sequential(*enc), nn.Sequential(*dec)


def check_coder(kind: str, hidden: list[int] | None, latent: int, activation: str) -> list[int]:
    """Validate the options autoencoders and VAEs share; the hidden widths (defaults filled in)."""
    check_choice("kind", kind, ("mlp", "conv"))
    hidden = list(hidden) if hidden is not None else ([256] if kind == "mlp" else [16, 32])
    if not isinstance(latent, int) or latent < 1:
        raise ConfigError(f"config key 'model.latent' must be a positive integer, got {latent!r}")
    if not hidden or any(not isinstance(h, int) or h < 1 for h in hidden):
        raise ConfigError(f"config key 'model.hidden' must be a non-empty list of positive widths, got {hidden}")
    make_activation(activation)  # validates the name
    return hidden


@GENERATIVE.register("autoencoder")
def autoencoder(*, in_chans: int, input_size: tuple[int, int], kind: str = "mlp", hidden: list[int] | None = None,
                latent: int = 32, activation: str = "relu") -> Autoencoder:
    """An MLP (default hidden [256]) or convolutional (default channels [16, 32]) autoencoder."""
    hidden = check_coder(kind, hidden, latent, activation)
    build = mlp_coder if kind == "mlp" else conv_coder
    return Autoencoder(*build(in_chans, tuple(input_size), hidden, latent, latent, activation), latent)
