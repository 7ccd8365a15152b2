"""Transfer learning (notes: Transfer Learning): start from trained weights, freeze the low layers, replace
and retrain the head; unfreeze more layers when there is more data.

``load_weights`` reads an nnlab checkpoint (or run folder) or a torchvision state dict; ``freeze`` stops
gradients to the named modules and keeps their batch-norm statistics fixed (those BN layers stay in eval
mode even when the trainer calls ``model.train()``).
"""
from __future__ import annotations

import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from nnlab.engine import checkpoint
from nnlab.engine.runs import RunDir
from nnlab.errors import ConfigError, UserError

BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


@dataclass
class TransferReport:
    frozen: list[str] = field(default_factory=list)  # frozen top-level modules (or parameter prefixes)
    trainable: int = 0
    total: int = 0
    loaded: int = 0  # tensors loaded from the weights file
    skipped_head: list[str] = field(default_factory=list)
    backbone: dict[str, Any] | None = None  # model.backbone_weights: what was loaded into the backbone

    def describe(self) -> str:
        lines = []
        if self.loaded:
            lines.append(f"loaded {self.loaded} tensors" + (f" (new head: {', '.join(self.skipped_head)})"
                                                             if self.skipped_head else ""))
        if self.backbone:
            b = self.backbone
            lines.append(f"backbone: loaded {b['tensors']} tensors into {b['module']} from {b['source']}")
        if self.frozen:
            lines.append(f"frozen: {', '.join(self.frozen)}")
        lines.append(f"trainable parameters: {self.trainable:,} of {self.total:,}")
        return "\n".join(lines)


def read_state_dict(path: str | Path, key: str = "model.weights") -> dict[str, torch.Tensor]:
    """Weights from an nnlab run folder (best.pt, else last.pt), an nnlab checkpoint or a plain state dict
    (read with weights_only=True); errors name the config ``key``."""
    path = Path(path)
    if path.is_dir():
        try:
            path = RunDir(path).weights("best")
        except UserError as e:
            raise UserError(f"{key}: {e}") from None
    obj = checkpoint.load(path)
    state = obj.get("model", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{key}: {path} holds neither an nnlab checkpoint nor a state dict")
    return state


def head_keys(model: nn.Module) -> list[str]:
    """State-dict keys of the final classifier layer (``reset_head`` leaves these freshly initialised)."""
    path = getattr(model, "head_path", None)
    if path is None:
        return []
    return [f"{path}.{k}" for k in model.get_submodule(path).state_dict()]


def load_weights(model: nn.Module, state: dict[str, torch.Tensor], reset_head: bool = False) -> tuple[int, list[str]]:
    """Load ``state`` into ``model`` by name; with ``reset_head`` the classifier keeps its fresh weights.
    Any missing, unexpected or differently shaped tensor is a UserError naming the first few."""
    skip = head_keys(model) if reset_head else []
    if reset_head and not skip:
        raise UserError("model.reset_head: this model has no replaceable classifier head")
    own = model.state_dict()
    state = {k: v for k, v in state.items() if k not in skip}
    missing = [k for k in own if k not in state and k not in skip]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in state if k in own and state[k].shape != own[k].shape]
    problems = ([f"shape mismatch {', '.join(shapes[:3])}"] if shapes else []) + \
               ([f"missing in the file: {', '.join(missing[:3])}"] if missing else []) + \
               ([f"not in the model: {', '.join(unexpected[:3])}"] if unexpected else [])
    if problems:
        hint = " (a different number of classes? set model.reset_head: true)" if shapes and \
            all(s.split(":")[0] in head_keys(model) for s in shapes) else ""
        raise UserError(f"model.weights do not match the architecture: {'; '.join(problems)}{hint}")
    model.load_state_dict(state, strict=False)
    return len(state), skip


def _frozen_names(model: nn.Module, spec: str) -> list[str]:
    names = [n for n, _ in model.named_parameters()]
    if spec.startswith("up_to:"):
        target = spec.removeprefix("up_to:")
        hits = [i for i, n in enumerate(names) if n == target or n.startswith(target + ".")]
        return names[:hits[-1] + 1] if hits else []
    return [n for n in names if n == spec or n.startswith(spec + ".")]


def _keep_eval(module: nn.Module) -> None:
    """This BN layer ignores ``train()``: its running statistics stay those of the pretrained model."""
    module.train = types.MethodType(lambda self, mode=True: nn.Module.train(self, False), module)  # type: ignore
    module.eval()


def freeze(model: nn.Module, specs: Sequence[str]) -> list[str]:
    """Stop training the modules named in ``specs`` (a module name, or ``up_to:NAME`` for everything up to
    and including NAME in definition order). Returns the frozen top-level module names."""
    frozen: set[str] = set()
    for spec in specs:
        names = _frozen_names(model, spec)
        if not names:
            top = ", ".join(n for n, m in model.named_children() if any(True for _ in m.parameters()))
            raise UserError(f"model.freeze: {spec!r} matches no module with parameters (top-level modules: {top})")
        frozen.update(names)
    params = dict(model.named_parameters())
    for n in frozen:
        params[n].requires_grad_(False)
    for name, m in model.named_modules():
        own = [f"{name}.{k}" if name else k for k, _ in m.named_parameters(recurse=False)]
        if isinstance(m, BN) and own and all(k in frozen for k in own):
            _keep_eval(m)
    return list(dict.fromkeys(n.split(".")[0] for n in params if n in frozen))  # definition order


def apply(model: nn.Module, weights: str | None, freeze_specs: Sequence[str], reset_head: bool,
          backbone_weights: str | None = None) -> TransferReport:
    """The config's transfer settings, in order: load weights (the whole model's, or a detector backbone's),
    then freeze. Errors come before training."""
    report = TransferReport()
    if weights and backbone_weights:
        raise UserError("model.weights and model.backbone_weights both load weights: give one")
    if weights:
        report.loaded, report.skipped_head = load_weights(model, read_state_dict(weights), reset_head)
    elif reset_head:
        raise UserError("model.reset_head needs model.weights (the pretrained weights whose head is replaced)")
    if backbone_weights:
        from nnlab.models.detection.pretrained import load_backbone_weights  # detection parts: only when asked

        report.backbone = load_backbone_weights(model, backbone_weights)
    if freeze_specs:
        report.frozen = freeze(model, freeze_specs)
    report.total = sum(p.numel() for p in model.parameters())
    report.trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return report


KEYS = ("weights", "freeze", "reset_head", "backbone_weights")  # model-section keys read here, not by the builder


@dataclass
class TransferOptions:
    weights: str | None = None  # an nnlab checkpoint / run folder or a torchvision state dict
    freeze: list[str] = field(default_factory=list)  # module names or "up_to:NAME"
    reset_head: bool = False  # with weights: keep a fresh classifier head (new classes)
    backbone_weights: str | None = None  # a detector's backbone from a classifier run / state dict

    @property
    def active(self) -> bool:
        """Whether anything is loaded or frozen (then meta.json records the report)."""
        return bool(self.weights or self.freeze or self.backbone_weights)


def options(model_args: dict) -> TransferOptions:
    """The transfer keys of a config's model section, type-checked (ConfigError names the key)."""
    w, fr, rh = model_args.get("weights"), model_args.get("freeze", []), model_args.get("reset_head", False)
    fr = [fr] if isinstance(fr, str) else fr
    if not isinstance(fr, list) or not all(isinstance(f, str) for f in fr):
        raise ConfigError(f"config key 'model.freeze' got {fr!r}, expected module names or 'up_to:NAME'")
    if not isinstance(rh, bool):
        raise ConfigError(f"config key 'model.reset_head' got {rh!r}, expected true or false")
    bw = model_args.get("backbone_weights")
    for key, value in (("weights", w), ("backbone_weights", bw)):
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"config key 'model.{key}' got {value!r}, expected a file or run folder path")
        if value is not None and not Path(value).exists():
            hint = (" (train the backbone first: README 'Pretrained backbones offline'; or set "
                    "--model.backbone_weights=null to train from scratch)") if key == "backbone_weights" else ""
            raise ConfigError(f"config key 'model.{key}': {value} does not exist{hint}")
    return TransferOptions(w, fr, rh, bw)


def builder_options(model_args: dict) -> dict:
    """The model section's keys without the transfer ones: what the model builder takes."""
    return {k: v for k, v in model_args.items() if k not in KEYS}
