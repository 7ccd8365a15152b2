"""DCGAN (Radford et al. 2016; notes: a GAN trains a generator from noise z to fool a discriminator that tells
real images from generated ones).

Radford et al.'s recipe scaled to small images: the generator projects z to a (4 w, H/4, W/4) map and
doubles it twice with stride-2 transposed convolutions (batch norm, ReLU; no norm on the output layer),
the discriminator mirrors it with stride-2 convolutions and leaky ReLU (batch norm inside, except on its
first layer; ``d_norm: none`` for the Wasserstein-GP loss, whose penalty is per sample). The generator
returns logits; ``sigmoid`` gives pixels in [0, 1]. The discriminator takes pixels in [0, 1] and returns one
score per image (B,).
"""
from __future__ import annotations

import torch
from torch import nn

from nnlab.errors import ConfigError
from nnlab.models.generative.registry import GENERATIVE
from nnlab.models.layers import check_choice


def _norm(kind: str, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if kind == "batch" else nn.Identity()


class Generator(nn.Module):
    """z (B, latent) -> logits (B, C, H, W)."""

    def __init__(self, latent: int, in_chans: int, size: tuple[int, int], width: int) -> None:
        super().__init__()
        self.start = (4 * width, size[0] // 4, size[1] // 4)
        self.project = nn.Sequential(nn.Linear(latent, 4 * width * self.start[1] * self.start[2], bias=False),
                                     nn.Unflatten(1, self.start), nn.BatchNorm2d(4 * width), nn.ReLU())
        self.up = nn.Sequential(
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, in_chans, 4, 2, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.up(self.project(z))  # (B, 4w, H/4, W/4) -> (B, C, H, W)


class Discriminator(nn.Module):
    """Pixels in [0, 1] (B, C, H, W) -> a real-vs-fake score (logit for the standard loss) (B,)."""

    def __init__(self, in_chans: int, size: tuple[int, int], width: int, norm: str) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_chans, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=norm == "none"), _norm(norm, 2 * width), nn.LeakyReLU(0.2),
            nn.Flatten())
        self.score = nn.Linear(2 * width * (size[0] // 4) * (size[1] // 4), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score(self.features(x * 2 - 1)).squeeze(1)  # (B,)


class DCGAN(nn.Module):
    """``generator`` and ``discriminator`` (each trained by its own optimizer); ``forward(z)`` generates."""

    def __init__(self, generator: Generator, discriminator: Discriminator, latent: int) -> None:
        super().__init__()
        self.generator, self.discriminator, self.latent = generator, discriminator, latent

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] (B, C, H, W) from codes z (B, latent)."""
        return torch.sigmoid(self.generator(z).float())

    def noise(self, n: int, device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.latent, device=device, generator=generator)  # (n, latent)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n images from z ~ N(0, I): (n, C, H, W) in [0, 1]."""
        return self(self.noise(n, next(self.parameters()).device, generator))


@GENERATIVE.register("dcgan")
def dcgan(*, in_chans: int, input_size: tuple[int, int], latent: int = 64, width: int = 64,
          d_norm: str = "batch") -> DCGAN:
    """A DCGAN for images whose height and width are multiples of 4 (8x8 digits, 28x28 MNIST, 32x32 CIFAR)."""
    h, w = input_size
    if h % 4 or w % 4:
        raise ConfigError(f"dcgan needs a height and width divisible by 4, got {h}x{w} (set data.size)")
    if not isinstance(latent, int) or latent < 1:
        raise ConfigError(f"config key 'model.latent' must be a positive integer, got {latent!r}")
    if not isinstance(width, int) or width < 1:
        raise ConfigError(f"config key 'model.width' must be a positive integer, got {width!r}")
    check_choice("d_norm", d_norm, ("batch", "none"))
    return DCGAN(Generator(latent, in_chans, (h, w), width), Discriminator(in_chans, (h, w), width, d_norm), latent)
