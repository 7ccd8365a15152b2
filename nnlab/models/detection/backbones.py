"""Backbones: the feature extractor of backbone -> neck -> head (notes: one-stage detector architecture).

``ZooBackbone`` turns any zoo classifier into a multi-scale extractor through its ``feature_taps`` (the classifier
head is removed, the feature layers keep their names, so a classifier run's weights load into ``body``);
``TinyBackbone`` is the small fast default for CPU. Both return an ordered dict of maps, high resolution first,
and declare each map's ``channels`` and ``strides`` (measured once by a dry run at the input size).
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from nnlab.errors import ConfigError, UserError
from nnlab.models.cnn.base import Classifier
from nnlab.models.cnn.tiny import tiny_stages
from nnlab.models.registry import MODELS

PROBE = 128  # side of the dry-run image that measures the strides


class Backbone(nn.Module):
    """A feature extractor: ``forward(images) -> {name: (B, channels[i], H / strides[i], W / strides[i])}``."""

    names: list[str]
    channels: list[int]
    strides: list[int]

    def measure(self, in_chans: int, probe: int = PROBE) -> None:
        """Fill ``names``, ``channels`` and ``strides`` from one forward pass of a zero ``probe`` x ``probe``
        image (large enough that every stride shows, whatever the input size)."""
        was_training = self.training
        self.eval()
        with torch.no_grad():
            maps = self(torch.zeros(1, in_chans, probe, probe))
        self.train(was_training)
        self.names = list(maps)
        self.channels = [m.shape[1] for m in maps.values()]
        self.strides = [max(round(probe / m.shape[2]), 1) for m in maps.values()]

    def classifier_part(self) -> nn.Module:
        """The module whose state-dict keys are those of the matching zoo classifier (pretraining loads here)."""
        raise NotImplementedError

    def load_classifier_state(self, state: dict[str, torch.Tensor]) -> int:
        """Load a classifier's state dict (an nnlab run of the matching model, or torchvision's): the head's and
        unused layers' tensors are skipped; a missing or differently shaped tensor is a UserError.
        Returns the number of tensors loaded."""
        part = self.classifier_part()
        own = part.state_dict()
        missing = [k for k in own if k not in state]
        shapes = [k for k in own if k in state and state[k].shape != own[k].shape]
        if missing or shapes:
            diffs = [f"{k}: {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in shapes[:3]]
            what = f"missing {', '.join(missing[:3])}" if missing else f"shape mismatch {', '.join(diffs)}"
            raise UserError(f"backbone weights do not fit this backbone ({what}): train the classifier with the "
                            f"same model, in_chans and form (width / depth / norm for tiny)")
        part.load_state_dict({k: state[k] for k in own})
        return len(own)


def _kept_children(model: Classifier, layers: list[nn.Module]) -> set[str]:
    paths = {id(m): name for name, m in model.named_modules()}
    return {paths[id(layer)].split(".")[0] for layer in layers}


class ZooBackbone(Backbone):
    """A zoo classifier's feature layers up to its last used tap; ``levels`` deepest taps are returned."""

    def __init__(self, name: str, body: Classifier, levels: int, in_chans: int) -> None:
        super().__init__()
        taps = list(body.tap_names)
        if levels > len(taps):
            raise ConfigError(f"backbone {name!r} has {len(taps)} feature taps ({', '.join(taps)}); "
                              f"the detector needs {levels}: use fewer levels or another backbone")
        self.taps = taps[len(taps) - levels:]
        layers = []
        for layer_name, layer in body.feature_layers():
            layers.append(layer)
            if layer_name == self.taps[-1]:
                break
        keep = _kept_children(body, layers)
        for child in [c for c, _ in body.named_children() if c not in keep]:
            delattr(body, child)  # the classifier head: no unused parameters in a detector
        self.body = body
        self.measure(in_chans)

    def classifier_part(self) -> nn.Module:
        return self.body  # the classifier with its head removed: its keys are the classifier's

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        out: OrderedDict[str, torch.Tensor] = OrderedDict()
        for layer_name, layer in self.body.feature_layers():
            x = layer(x)
            if layer_name in self.taps:
                out[layer_name] = x
                if layer_name == self.taps[-1]:
                    break
        return out


class TinyBackbone(Backbone):
    """``depth`` (<= 5) stride-2 stages (3x3 conv-BN-ReLU twice) of widths w, 2w, 4w, 8w, 8w: strides 2..32; the
    deepest ``levels`` stage outputs are returned. About 0.8 M parameters at w=16: trains in minutes on 2 cores.
    The stages are the zoo classifier ``tiny``'s (same keys): a ``tiny`` classify run pretrains this backbone."""

    def __init__(self, in_chans: int, levels: int = 3, width: int = 16, depth: int = 5) -> None:
        super().__init__()
        if not 1 <= depth <= 5 or not 1 <= levels <= depth:
            raise ConfigError(f"backbone 'tiny' needs 1 <= levels <= depth <= 5, got levels {levels}, depth {depth}")
        self.stages = tiny_stages(in_chans, width, depth)
        self.first = depth - levels
        self.measure(in_chans)

    def classifier_part(self) -> nn.Module:
        return self  # ``stages.*``: the keys of the zoo classifier ``tiny``

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        out: OrderedDict[str, torch.Tensor] = OrderedDict()
        for i, stage in enumerate(self.stages):
            x = stage(x)  # (B, w_i, H / 2^(i+1), W / 2^(i+1))
            if i >= self.first:
                out[f"c{i + 1}"] = x
        return out


def backbone_names() -> list[str]:
    """``tiny`` and every zoo classifier with feature taps."""
    return ["tiny", *(n for n in MODELS.names() if n != "tiny")]


def build_backbone(name: str, in_chans: int, input_size: tuple[int, int], levels: int, width: int = 16,
                   **options: object) -> Backbone:
    """``tiny`` (width ``width``) or a zoo classifier built with ``options`` (e.g. ``form``, ``norm``)."""
    if name == "tiny":
        return TinyBackbone(in_chans, levels, width, **options)  # type: ignore[arg-type]
    body = MODELS.build(name, num_classes=1, in_chans=in_chans, input_size=input_size, **options)
    if not isinstance(body, Classifier) or not body.tap_names:
        raise ConfigError(f"model {name!r} has no feature taps and cannot be a detection backbone; "
                          f"use 'tiny' or a CNN ({', '.join(n for n in MODELS.names() if n != name)[:80]}...)")
    return ZooBackbone(name, body, levels, in_chans)
