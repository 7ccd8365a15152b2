"""Typed experiment config: load YAML, apply ``--a.b=c`` overrides, reject unknown keys, save resolved.

A config is plain data (nanoGPT style). It is turned into objects in one place, ``nnlab.api``.
Sections ``model`` and ``optim`` take extra keys (the model's or optimizer's own options); those are
checked against the builder's signature by ``nnlab.api.validate`` before any work starts.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from nnlab.config_tasks import (  # noqa: F401  (the sections' types, resolved here by typing.get_type_hints)
    AugmentConfig, ClassifyConfig, DetectConfig, GenerateConfig, NoiseConfig, RegularizeConfig, RLConfig,
    ScenesConfig, SegmentConfig, SequenceConfig,
)
from nnlab.errors import ConfigError


@dataclass
class DataConfig:
    dataset: str = "digits"  # digits | mnist | cifar10 | cifar100 | folder | cache; segment: masks | pennfudan | shapes
    path: str | None = None
    download: bool = False
    image_size: list[int] | None = None  # [H, W] for image folders
    channels: int | None = None  # 1 (grayscale) or 3 (color) for image folders
    resize_mode: Literal["squash", "crop", "fill", "half_crop", "letterbox"] = "squash"  # letterbox: detection
    val_fraction: float = 0.1  # taken from train when the dataset has no validation split
    test_fraction: float = 0.2  # taken when the dataset has no test split
    train_size: int | None = None  # stratified subset of the training split
    split_seed: int | None = None  # seed of the val/test split; None: the run's seed (ensembles vary seed only)
    normalize: bool = True
    orientation_sensitive: bool | None = None  # flips/rotations change labels; None: yes for digits, mnist
    classes: list[Union[str, int]] | None = None  # keep only these classes, relabelled 0..k-1 in this order

    def __post_init__(self) -> None:
        _check(0.0 <= self.val_fraction < 1.0, "data.val_fraction", "must be in [0, 1)")
        _check(0.0 <= self.test_fraction < 1.0, "data.test_fraction", "must be in [0, 1)")
        _check(self.val_fraction + self.test_fraction < 1.0, "data.test_fraction",
               "val_fraction + test_fraction must leave some training data")
        _check(self.train_size is None or self.train_size > 0, "data.train_size", "must be positive")
        _check(self.channels in (None, 1, 3), "data.channels", "must be 1 or 3")
        if self.image_size is not None:
            _check(len(self.image_size) == 2 and min(self.image_size) > 0, "data.image_size",
                   "must be [height, width] with positive sizes")


@dataclass
class ModelConfig:
    name: str = "mlp"
    args: dict[str, Any] = field(default_factory=dict)  # the model's own options (extra keys)


@dataclass
class ScheduleConfig:
    name: str = "fixed"  # see `nnlab optim list`: fixed, step, multistep, exp, inv, poly, sigmoid, cosine, ...
    per_step: bool = False  # step after every optimizer step (durations in steps) or after every epoch
    args: dict[str, Any] = field(default_factory=dict)  # the schedule's own options (extra keys)


@dataclass
class OptimConfig:
    name: str = "sgd"
    lr: float | None = None  # None: the optimizer's own default (see `nnlab optim list`)
    weight_decay: float | None = None  # None: the optimizer's own default (adamw 0.01, 0 elsewhere)
    no_decay_bias_norm: bool = True  # no weight decay for biases and normalization parameters
    lr_mult: dict[str, float] = field(default_factory=dict)  # module name -> lr multiplier (0 freezes)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    args: dict[str, Any] = field(default_factory=dict)  # the optimizer's own options (extra keys)

    def __post_init__(self) -> None:
        _check(self.lr is None or 0 < self.lr < math.inf, "optim.lr", "must be positive and finite")
        _check(self.weight_decay is None or self.weight_decay >= 0, "optim.weight_decay", "must be >= 0")


@dataclass
class CheckpointConfig:
    interval: int = 1  # save last.pt every N epochs (and always at the end)
    keep_last: int = 1  # also keep epoch-N.pt snapshots of the last N saves (0: none)

    def __post_init__(self) -> None:
        _check(self.interval >= 1, "train.checkpoint.interval", "must be >= 1")
        _check(self.keep_last >= 0, "train.checkpoint.keep_last", "must be >= 0")


@dataclass
class EarlyStoppingConfig:
    patience: int | None = None  # None: off
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        _check(self.patience is None or self.patience >= 1, "train.early_stopping.patience", "must be >= 1")
        _check(self.min_delta >= 0, "train.early_stopping.min_delta", "must be >= 0")


@dataclass
class EmaConfig:
    decay: float | None = None  # e.g. 0.999: validation, test and best.pt use the weights' moving average; None: off
    warmup: int = 0  # steps over which the decay ramps up, decay * (1 - exp(-step / warmup)); 0: none

    def __post_init__(self) -> None:
        _check(self.decay is None or 0 < self.decay < 1, "train.ema.decay", "must be between 0 and 1 (or null: off)")
        _check(self.warmup >= 0, "train.ema.warmup", "must be >= 0 steps")


MAX_EPOCHS = 100_000  # far beyond any real run; stops a typo (1e12) from queueing a job that never ends


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: Union[int, Literal["full"]] = 64  # "full": batch GD; 1: SGD; else mini-batch
    accumulate: int = 1  # gradient accumulation steps
    loss: str = "auto"  # auto: the model's own (cross_entropy, or hinge for svm)
    monitor: str | None = None  # metric that picks best.pt and drives early stopping; None: the task's
    mode: Literal["auto", "min", "max"] = "auto"
    eval_batch_size: int = 1024
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["fp32", "bf16"] = "fp32"
    channels_last: bool = False
    compile: bool = False
    num_workers: int = 0
    tensorboard: bool = False
    sync_bn: bool = False  # distributed runs on CUDA: BatchNorm statistics over the global batch (SyncBatchNorm)
    clip_norm: float | None = None  # clip the gradients' total L2 norm to this before each step
    clip_value: float | None = None  # clip every gradient element to [-v, v] before each step
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    ema: EmaConfig = field(default_factory=EmaConfig)

    def __post_init__(self) -> None:
        _check(1 <= self.epochs <= MAX_EPOCHS, "train.epochs", f"must be between 1 and {MAX_EPOCHS}")
        _check(self.batch_size == "full" or self.batch_size >= 1, "train.batch_size", "must be >= 1 or 'full'")
        _check(self.accumulate >= 1, "train.accumulate", "must be >= 1")
        _check(self.eval_batch_size >= 1, "train.eval_batch_size", "must be >= 1")
        _check(self.num_workers >= 0, "train.num_workers", "must be >= 0")
        _check(self.clip_norm is None or self.clip_norm > 0, "train.clip_norm", "must be positive")
        _check(self.clip_value is None or self.clip_value > 0, "train.clip_value", "must be positive")


@dataclass
class Config:
    name: str | None = None  # run name; default <dataset>_<model>
    task: str = "classify"  # classify | detect | generate | rl | segment | sequence (see `nnlab.tasks.TASKS`)
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    regularize: RegularizeConfig = field(default_factory=RegularizeConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    classify: ClassifyConfig = field(default_factory=ClassifyConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    detect: DetectConfig = field(default_factory=DetectConfig)
    segment: SegmentConfig = field(default_factory=SegmentConfig)
    rl: RLConfig = field(default_factory=RLConfig)
    sequence: SequenceConfig = field(default_factory=SequenceConfig)

    @property
    def run_name(self) -> str:
        if self.task == "rl":
            return self.name or f"{self.rl.env}_{self.rl.algorithm}"
        return self.name or f"{self.data.dataset}_{self.model.name}"


# Sections whose unknown keys are collected into ``args`` instead of being rejected.
_OPEN_SECTIONS = {ModelConfig, OptimConfig, ScheduleConfig}


def _check(ok: bool, key: str, why: str) -> None:
    if not ok:
        raise ConfigError(f"config key '{key}' {why}")


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.safe_load``, except that a key given twice in one mapping is an error (PyYAML keeps the last one
    silently, so a config could say one thing at the top and mean another)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = None if key_node.tag == "tag:yaml.org,2002:merge" else self.construct_object(key_node, deep=True)
            if key is None or not isinstance(key, typing.Hashable):
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r} (first on line "
                                                        f"{seen[key]})", key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def from_dict(raw: dict[str, Any]) -> Config:
    """Build a validated Config from nested plain data."""
    return _build(Config, raw, "")


def load(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a YAML config file and apply ``section.key=value`` overrides."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = yaml.load(path.read_text(), Loader=UniqueKeyLoader)
    except yaml.YAMLError as e:  # one line: the problem and where, not PyYAML's multi-line excerpt
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"config file {path} is not valid YAML: {getattr(e, 'problem', None) or e}{where}") from None
    if raw is None:
        raise ConfigError(f"config file {path} is empty: give at least the sections it changes (see configs/)")
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections")
    return from_dict(apply_overrides(raw, overrides))


def apply_overrides(raw: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Apply ``a.b=c`` strings (a leading ``--`` is allowed); values are parsed as YAML."""
    raw = _deepcopy(raw)
    for item in overrides:
        text = item[2:] if item.startswith("--") else item
        if "=" not in text:
            raise ConfigError(f"override {item!r} must look like --section.key=value")
        dotted, value = text.split("=", 1)
        keys = dotted.split(".")
        node = raw
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: '{k}' is not a section")
        try:
            node[keys[-1]] = yaml.load(value, Loader=UniqueKeyLoader) if value != "" else None
        except yaml.YAMLError:
            node[keys[-1]] = value
    return raw


def to_dict(cfg: Any) -> Any:
    """Plain nested data; ``args`` are folded back into their section."""
    if dataclasses.is_dataclass(cfg):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(cfg):
            value = getattr(cfg, f.name)
            if f.name == "args" and type(cfg) in _OPEN_SECTIONS:
                out.update(to_dict(value))
            else:
                out[f.name] = to_dict(value)
        return out
    if isinstance(cfg, dict):
        return {k: to_dict(v) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v) for v in cfg]
    return cfg


def save(cfg: Config, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))


def _deepcopy(raw: Any) -> Any:
    if isinstance(raw, dict):
        return {k: _deepcopy(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_deepcopy(v) for v in raw]
    return raw


def _build(cls: type, raw: Any, prefix: str) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config key '{prefix.rstrip('.') or 'root'}' must be a section (mapping)")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or key not in names or key == "args":
            if cls in _OPEN_SECTIONS:
                extra[str(key)] = value
                continue
            valid = ", ".join(sorted(names))
            raise ConfigError(f"unknown config key '{prefix}{key}' (valid keys here: {valid})")
        kwargs[key] = _coerce(value, hints[key], f"{prefix}{key}")
    if cls in _OPEN_SECTIONS:
        kwargs["args"] = extra
    return cls(**kwargs)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key + ".")
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        errors = []
        for arm in typing.get_args(tp):
            try:
                return _coerce(value, arm, key)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"config key '{key}' got {value!r}, expected {_describe(tp)}")
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"config key '{key}' must be empty")
    if origin is Literal:
        if value in typing.get_args(tp):
            return value
        raise ConfigError(f"config key '{key}' got {value!r}, expected one of {list(typing.get_args(tp))}")
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"config key '{key}' got {value!r}, expected a list")
        (item_tp,) = typing.get_args(tp)
        return [_coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{key}' got {value!r}, expected a mapping")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # PyYAML reads "1e-3" as a string (YAML 1.1)
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, str):
            return value
    raise ConfigError(f"config key '{key}' got {value!r}, expected {_describe(tp)}")


coerce = _coerce  # public: ``nnlab.models.registry`` checks model options against their builder's annotations


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "nothing"
    return getattr(tp, "__name__", str(tp))
