"""The parts every detector builder shares: backbone + neck by name, checked against the input size, and the
final ``Detector``. Builders in the head modules call these, so each registered builder keeps its options
visible in its own signature (the config validator reads them)."""
from __future__ import annotations

from typing import Any

from nnlab.errors import ConfigError
from nnlab.models.detection.backbones import Backbone, build_backbone
from nnlab.models.detection.detector import Detector, Head
from nnlab.models.detection.necks import NECKS, Neck


def build_parts(backbone: str, neck: str, *, in_chans: int, input_size: tuple[int, int], levels: int,
                width: int, neck_width: int, merge: str,
                backbone_options: dict[str, Any] | None = None) -> tuple[Backbone, Neck]:
    """Backbone with ``levels`` feature maps, then the neck over them; refuses too-small inputs."""
    if len(input_size) != 2 or min(input_size) < 1:
        raise ConfigError(f"input_size must be (height, width), got {input_size}")
    if neck not in NECKS:
        NECKS.get(neck)  # raises with the valid names
    bb = build_backbone(backbone, in_chans, tuple(input_size), levels, width, **(backbone_options or {}))
    stride = max(bb.strides)
    if min(input_size) < stride:
        raise ConfigError(f"input_size {input_size[0]}x{input_size[1]} is smaller than the network's stride "
                          f"{stride} ({backbone}, {levels} levels): use fewer levels or a larger input_size")
    options: dict[str, Any] = {} if neck == "none" else {"width": neck_width, "merge": merge}
    nk = NECKS.build(neck, in_channels=bb.channels, **options)
    if levels < nk.min_levels:
        raise ConfigError(f"neck {neck!r} merges at least {nk.min_levels} levels; the backbone gives {levels}")
    return bb, nk


def uniform_channels(channels: list[int], detector: str) -> int:
    """The one channel count a shared-weight head needs on every level (a neck provides it)."""
    if len(set(channels)) != 1:
        raise ConfigError(f"{detector} shares its head across levels and needs one channel count, got "
                          f"{channels}: use neck fpn or pan, or levels: 1")
    return channels[0]


def finish(backbone: Backbone, neck: Neck, head: Head, *, classes: int, in_chans: int,
           input_size: tuple[int, int], score_thresh: float, nms_thresh: float, max_detections: int,
           detector: type[Detector] = Detector) -> Detector:
    if classes < 1:
        raise ConfigError(f"classes must be >= 1, got {classes}")
    return detector(backbone, neck, head, num_classes=classes, in_chans=in_chans, input_size=tuple(input_size),
                    score_thresh=score_thresh, nms_thresh=nms_thresh, max_detections=max_detections)
