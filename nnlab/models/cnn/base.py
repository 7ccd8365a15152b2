"""The timm-style contract every CNN classifier keeps: ``forward_features`` -> ``forward_head``,
``num_features``, ``reset_classifier(n)`` and ``feature_taps`` (the multi-scale maps a detection neck reads)."""
from __future__ import annotations

from typing import Iterator, NamedTuple, Sequence

import torch
from torch import nn

SMALL_MAX = 64  # inputs up to this side use the small-input form when the form is "auto"
FORMS = ("auto", "imagenet", "small")


class AuxLogits(NamedTuple):
    """A training forward's main logits (B, K) with auxiliary classifiers' logits and their loss weight."""

    logits: torch.Tensor
    aux: list[torch.Tensor]
    weight: float


def pick_form(form: str, input_size: Sequence[int]) -> str:
    """``auto``: the small-input form (no early downsampling) for inputs up to 64 px, else the ImageNet form."""
    from nnlab.models.layers import check_choice

    check_choice("form", form, FORMS)
    if form != "auto":
        return form
    return "small" if max(input_size) <= SMALL_MAX else "imagenet"


class Classifier(nn.Module):
    """Subclasses list their feature layers in forward order (``feature_layers``), name the ones whose outputs
    are taps (``tap_names``), the final Linear (``head_path``) and implement ``forward_head``."""

    num_features: int
    head_path: str = "fc"
    tap_names: tuple[str, ...] = ()

    def feature_layers(self) -> Iterator[tuple[str, nn.Module]]:
        raise NotImplementedError

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        raise NotImplementedError

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        for _, layer in self.feature_layers():
            x = layer(x)
        return x  # (B, num_features', h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))  # (B, C, H, W) -> (B, K)

    def feature_taps(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Feature maps at each stage's end, high resolution first (strides 4/8/16/32 at ImageNet size)."""
        taps: dict[str, torch.Tensor] = {}
        for name, layer in self.feature_layers():
            x = layer(x)
            if name in self.tap_names:
                taps[name] = x
        return taps

    def get_classifier(self) -> nn.Linear:
        return self.get_submodule(self.head_path)

    def reset_classifier(self, num_classes: int) -> None:
        """A fresh final Linear layer for ``num_classes`` (transfer learning: replace and retrain the head)."""
        old = self.get_classifier()
        parent_path, _, leaf = self.head_path.rpartition(".")
        parent = self.get_submodule(parent_path) if parent_path else self
        new = nn.Linear(old.in_features, num_classes)
        setattr(parent, leaf, new.to(old.weight.device, old.weight.dtype))
