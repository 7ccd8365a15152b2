"""Typed experiment config: load YAML, apply ``--a.b=c`` overrides, reject unknown keys, save resolved.

A config is plain data (nanoGPT style). It is turned into objects in one place, ``nnlab.api``.
Sections ``model`` and ``optim`` take extra keys (the model's or optimizer's own options); those are
checked against the builder's signature by ``nnlab.api.validate`` before any work starts.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from nnlab.errors import ConfigError


@dataclass
class DataConfig:
    dataset: str = "digits"  # digits | mnist | cifar10 | cifar100 | folder | cache
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
        _check(self.lr is None or self.lr > 0, "optim.lr", "must be positive")
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
    clip_norm: float | None = None  # clip the gradients' total L2 norm to this before each step
    clip_value: float | None = None  # clip every gradient element to [-v, v] before each step
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)

    def __post_init__(self) -> None:
        _check(self.epochs >= 1, "train.epochs", "must be >= 1")
        _check(self.batch_size == "full" or self.batch_size >= 1, "train.batch_size", "must be >= 1 or 'full'")
        _check(self.accumulate >= 1, "train.accumulate", "must be >= 1")
        _check(self.eval_batch_size >= 1, "train.eval_batch_size", "must be >= 1")
        _check(self.num_workers >= 0, "train.num_workers", "must be >= 0")
        _check(self.clip_norm is None or self.clip_norm > 0, "train.clip_norm", "must be positive")
        _check(self.clip_value is None or self.clip_value > 0, "train.clip_value", "must be positive")


@dataclass
class NoiseConfig:
    input_std: float = 0.0  # Gaussian noise on the (normalized) training inputs
    weight_std: float = 0.0  # Gaussian noise on the weights, training forward pass only

    def __post_init__(self) -> None:
        _check(self.input_std >= 0, "regularize.noise.input_std", "must be >= 0")
        _check(self.weight_std >= 0, "regularize.noise.weight_std", "must be >= 0")


@dataclass
class RegularizeConfig:
    l1: float = 0.0  # lambda of the explicit penalty lambda * sum|w| added to the loss
    l2: float = 0.0  # lambda of lambda * sum w^2 (decoupled decay is optim.weight_decay)
    include_bias: bool = False  # also penalize biases and normalization parameters
    label_smoothing: float = 0.0
    mixup: float = 0.0  # alpha of Beta(alpha, alpha); 0: off
    cutmix: float = 0.0  # alpha; 0: off
    mix_prob: float = 1.0  # probability that a batch is mixed at all
    switch_prob: float = 0.5  # probability of CutMix (rather than mixup) when both are on
    noise: NoiseConfig = field(default_factory=NoiseConfig)

    def __post_init__(self) -> None:
        for key in ("l1", "l2", "mixup", "cutmix"):
            _check(getattr(self, key) >= 0, f"regularize.{key}", "must be >= 0")
        for key in ("label_smoothing", "mix_prob", "switch_prob"):
            _check(0.0 <= getattr(self, key) <= 1.0, f"regularize.{key}", "must be in [0, 1]")
        _check(self.label_smoothing < 1.0, "regularize.label_smoothing", "must be below 1")


@dataclass
class AugmentConfig:
    """Training-time augmentation (nnlab/data/augment.py); probabilities in [0, 1], magnitudes >= 0.

    A key left unset (None) takes the preset's value, or off; a key set, even to 0, overrides the preset."""

    preset: str | None = None  # a named set of the keys below (see `nnlab.data.augment.PRESETS`)
    hflip: float | None = None  # probability of a horizontal flip
    vflip: float | None = None  # probability of a vertical flip
    rot90: float | None = None  # probability of a random 90/180/270-degree turn
    rotate: float | None = None  # max angle in degrees (uniform in [-rotate, rotate])
    scale: list[float] | None = None  # [min, max] zoom factor
    translate: float | None = None  # max shift as a fraction of the image size
    resized_crop: list[float] | None = None  # [min, max] area fraction of a random crop resized back
    pad_crop: int | None = None  # zero-pad by this many pixels, then crop back at a random offset
    hue: float | None = None  # max hue shift (fraction of the colour wheel, <= 0.5)
    saturation: float | None = None  # max relative saturation change
    value: float | None = None  # max relative brightness change
    noise: float | None = None  # std of Gaussian pixel noise (pixel values in [0, 1])
    erase: float | None = None  # probability of random erasing (a box of 2-33% of the image set to 0)

    def __post_init__(self) -> None:
        for key in ("hflip", "vflip", "rot90", "erase"):
            _check(0.0 <= (getattr(self, key) or 0.0) <= 1.0, f"augment.{key}", "must be a probability in [0, 1]")
        for key in ("rotate", "translate", "pad_crop", "hue", "saturation", "value", "noise"):
            _check((getattr(self, key) or 0) >= 0, f"augment.{key}", "must be >= 0")
        _check((self.hue or 0.0) <= 0.5, "augment.hue", "must be <= 0.5")
        _check((self.translate or 0.0) < 1.0, "augment.translate", "must be below 1")
        _check((self.saturation or 0.0) <= 1.0 and (self.value or 0.0) <= 1.0, "augment.saturation",
               "and augment.value must be <= 1")
        for key in ("scale", "resized_crop"):
            pair = getattr(self, key)
            _check(pair is None or (len(pair) == 2 and 0 < pair[0] <= pair[1]), f"augment.{key}",
                   "must be [min, max] with 0 < min <= max")
        _check(self.resized_crop is None or self.resized_crop[1] <= 1.0, "augment.resized_crop",
               "area fractions must be <= 1")


@dataclass
class ClassifyConfig:
    """Options of ``task: classify``."""

    topk: int = 5  # the k of the top-k accuracy that evaluation reports (as ``topK``)

    def __post_init__(self) -> None:
        _check(self.topk >= 1, "classify.topk", "must be >= 1")


@dataclass
class GenerateConfig:
    """Options of ``task: generate`` (models that reconstruct or generate images)."""

    binarize: float | None = None  # threshold in (0, 1): pixels become 0/1 (Bernoulli data); None: keep grey
    noise_std: float = 0.0  # denoising: Gaussian noise on the inputs in training, the clean image as target
    samples: int = 16  # images in the reconstruction grid a run writes

    def __post_init__(self) -> None:
        _check(self.binarize is None or 0.0 < self.binarize < 1.0, "generate.binarize", "must be in (0, 1)")
        _check(self.noise_std >= 0, "generate.noise_std", "must be >= 0")
        _check(self.samples >= 1, "generate.samples", "must be >= 1")


@dataclass
class ScenesConfig:
    """The generated digit scenes of ``data.dataset: scenes`` (nnlab data scenes makes the same on disk)."""

    n: int = 2000  # training scenes (validation is taken from them by data.val_fraction)
    n_test: int = 500
    digits: list[int] = field(default_factory=lambda: [1, 5])  # digits per scene, [min, max]
    scale: list[float] = field(default_factory=lambda: [0.5, 2.0])  # digit size relative to 28 px, [min, max]
    clutter: bool = True  # textured background and digit fragments

    def __post_init__(self) -> None:
        _check(self.n >= 1 and self.n_test >= 1, "detect.scenes.n", "and n_test must be >= 1")
        _check(len(self.digits) == 2 and 0 <= self.digits[0] <= self.digits[1], "detect.scenes.digits",
               "must be [min, max] with 0 <= min <= max")
        _check(len(self.scale) == 2 and 0 < self.scale[0] <= self.scale[1], "detect.scenes.scale",
               "must be [min, max] with 0 < min <= max")


@dataclass
class DetectConfig:
    """Options of ``task: detect``."""

    max_dets: list[int] = field(default_factory=lambda: [1, 10, 100])  # COCO's detections per image for AR / AP
    min_visibility: float = 0.3  # augmentation drops a box when less than this fraction of it stays in view
    scenes: ScenesConfig = field(default_factory=ScenesConfig)

    def __post_init__(self) -> None:
        _check(len(self.max_dets) >= 1 and min(self.max_dets) >= 1, "detect.max_dets", "must be positive counts")
        _check(0.0 <= self.min_visibility <= 1.0, "detect.min_visibility", "must be in [0, 1]")


@dataclass
class SequenceConfig:
    """Options of ``task: sequence`` (recurrent networks)."""

    mode: Literal["lm", "rows", "seq2seq"] = "lm"  # lm: character language model on a text; rows: images read
    # row by row (many-to-one); seq2seq: generated dates in human formats -> ISO 8601 (encoder-decoder)
    window: int = 128  # T: steps of truncated backpropagation through time (lm)
    val_fraction: float = 0.1  # the last part of the text (lm)
    test_fraction: float = 0.0  # taken from the very end (lm); 0: the test split is the validation text
    max_chars: int | None = None  # use only the first N characters of the text (quick runs)
    generated_chars: int = 20000  # size of the generated corpus of data.dataset 'sums'
    sample_length: int = 200  # characters nnlab predict writes after each prompt
    temperature: float = 0.8  # of sampling (0: always the most likely character)
    pairs: int = 20000  # generated (human date, ISO date) pairs of seq2seq, split by val_ and test_fraction
    beam: int = 3  # beam width of seq2seq's predict and report (1: greedy)

    def __post_init__(self) -> None:
        _check(self.window >= 1, "sequence.window", "must be >= 1")
        _check(0.0 < self.val_fraction < 1.0, "sequence.val_fraction", "must be in (0, 1)")
        _check(0.0 <= self.test_fraction < 1.0 - self.val_fraction, "sequence.test_fraction",
               "must be >= 0 and leave some training text")
        _check(self.max_chars is None or self.max_chars > 1, "sequence.max_chars", "must be > 1")
        _check(self.generated_chars > 1, "sequence.generated_chars", "must be > 1")
        _check(self.sample_length >= 1, "sequence.sample_length", "must be >= 1")
        _check(self.temperature >= 0, "sequence.temperature", "must be >= 0")
        _check(self.pairs >= 10, "sequence.pairs", "must be >= 10")
        _check(self.beam >= 1, "sequence.beam", "must be >= 1")


@dataclass
class Config:
    name: str | None = None  # run name; default <dataset>_<model>
    task: str = "classify"  # classify | detect | generate | sequence (see `nnlab.tasks.TASKS`)
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
    sequence: SequenceConfig = field(default_factory=SequenceConfig)

    @property
    def run_name(self) -> str:
        return self.name or f"{self.data.dataset}_{self.model.name}"


# Sections whose unknown keys are collected into ``args`` instead of being rejected.
_OPEN_SECTIONS = {ModelConfig, OptimConfig, ScheduleConfig}


def _check(ok: bool, key: str, why: str) -> None:
    if not ok:
        raise ConfigError(f"config key '{key}' {why}")


def from_dict(raw: dict[str, Any]) -> Config:
    """Build a validated Config from nested plain data."""
    return _build(Config, raw, "")


def load(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a YAML config file and apply ``section.key=value`` overrides."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML: {e}") from None
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
            node[keys[-1]] = yaml.safe_load(value) if value != "" else None
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


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "nothing"
    return getattr(tp, "__name__", str(tp))
