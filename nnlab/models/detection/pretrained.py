"""Pretrained backbones for detectors (``model.backbone_weights: RUN_OR_FILE``; notes: Transfer Learning).

A detector's backbone starts from a classifier's weights: an nnlab classify run of the matching zoo model (e.g.
``tiny`` or ``lenet5`` trained on ``nnlab data crops`` of the box dataset, or on MNIST), a torchvision state dict
of the same architecture (``resnet18`` ...), or another detector run with the same backbone (its ``backbone.*``
tensors). Only the backbone is loaded: the classifier's head and the detector's neck and head stay fresh. Freezing
(``model.freeze: [backbone]``) and lower learning rates (``optim.lr_mult: {backbone: 0.1}``) work as for any
module. Files are read with ``weights_only=True`` (``transfer.read_state_dict``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from nnlab.engine.runs import read_meta
from nnlab.errors import UserError
from nnlab.models.cnn.base import Classifier
from nnlab.models.detection.backbones import Backbone
from nnlab.models.detection.classic.cls_loc import ClsLoc
from nnlab.models.transfer import load_weights, read_state_dict

KEY = "model.backbone_weights"


def find_backbone(model: nn.Module) -> tuple[str, nn.Module]:
    """The model's backbone and its path: a ``Backbone`` (every learned detector, torchvision peers included) or
    cls_loc's zoo classifier; a UserError for models without one."""
    if isinstance(model, ClsLoc):
        return "backbone", model.backbone
    found = [(name, m) for name, m in model.named_modules() if isinstance(m, Backbone)]
    if not found:
        raise UserError(f"{KEY}: {type(model).__name__} has no backbone to load into (learned detectors and "
                        f"cls_loc have one); to start a whole model from a run use model.weights")
    return found[0]


def source_of(path: str | Path) -> str:
    """What the file holds, in words: an nnlab run's task and model (from its meta.json), or 'a file'."""
    try:
        meta = read_meta(path) if Path(path).is_dir() else {}
    except UserError:
        meta = {}
    if not meta:
        return f"the file {path}"
    chans = meta.get("preprocess", {}).get("channels")
    return f"run {Path(path).name} ({meta.get('task')} model {meta.get('model')!r}, in_chans {chans})"


def _own_keys(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """A detector run's ``prefix``-ed tensors without the prefix; a classifier's (or torchvision's) unchanged."""
    inner = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    return inner or state


def load_backbone_weights(model: nn.Module, path: str | Path) -> dict[str, Any]:
    """Load ``path``'s weights into ``model``'s backbone; what was loaded, as plain data for meta.json.
    Weights of another model, width or channel count are a UserError naming both sides."""
    name, backbone = find_backbone(model)
    state = read_state_dict(path, key=KEY)
    source = source_of(path)
    try:
        if isinstance(backbone, Backbone):
            part = backbone.classifier_part()
            inner = next(n for n, m in model.named_modules() if m is part)
            n = backbone.load_classifier_state(_own_keys(state, inner + "."))
        else:  # cls_loc: a zoo classifier whose head is the detector's class head
            assert isinstance(backbone, Classifier)
            n, _ = load_weights(backbone, _drop_head(_own_keys(state, name + "."), backbone), reset_head=True)
    except UserError as e:
        raise UserError(f"{KEY}: {source} into {type(backbone).__name__}: {e}") from None
    return {"path": str(path), "source": source, "module": name, "tensors": n}


def _drop_head(state: dict[str, torch.Tensor], clf: Classifier) -> dict[str, torch.Tensor]:
    head = f"{clf.head_path}."
    return {k: v for k, v in state.items() if not k.startswith(head)}
