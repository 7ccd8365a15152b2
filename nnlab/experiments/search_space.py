"""Hyper-parameter search spaces from YAML: one entry per dotted config key.

    optim.lr:         {type: float, low: 1.0e-3, high: 1.0, log: true, grid: [0.001, 0.01, 0.1, 1.0]}
    train.batch_size: {type: int, low: 16, high: 128, step: 16}
    model.hidden:     {type: categorical, choices: [[32], [64], [64, 32]]}

``grid`` lists the values a grid search tries for a float (ints and categoricals enumerate themselves).
Every key is checked against the config (``nnlab.api.validate``) before any trial starts.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nnlab.api import validate
from nnlab.config import Config
from nnlab.errors import ConfigError, UserError
from nnlab.experiments.common import with_values

_KEYS = {"float": {"low", "high", "log", "grid"}, "int": {"low", "high", "log", "step", "grid"},
         "categorical": {"choices"}}
MAX_GRID = 10_000


@dataclass(frozen=True)
class Param:
    name: str  # dotted config key
    kind: str  # float | int | categorical
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: int = 1
    choices: tuple[Any, ...] = ()
    grid: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        """The value an Optuna trial proposes (categoricals travel as JSON text: lists are allowed)."""
        if self.kind == "float":
            return trial.suggest_float(self.name, self.low, self.high, log=self.log)
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=self.step, log=self.log)
        return json.loads(trial.suggest_categorical(self.name, [json.dumps(c) for c in self.choices]))

    def grid_values(self) -> list[Any]:
        """The values a grid search tries, in the form ``suggest`` hands to Optuna."""
        if self.kind == "categorical":
            return [json.dumps(c) for c in self.choices]
        if self.grid:
            return list(self.grid)
        if self.kind == "int":
            return list(range(int(self.low), int(self.high) + 1, self.step))
        raise ConfigError(f"search space: grid search needs 'grid: [values]' for the float parameter "
                          f"'{self.name}'")

    def describe(self) -> str:
        if self.kind == "categorical":
            return f"one of {list(self.choices)}"
        return f"{self.kind} in [{self.low}, {self.high}]{' (log)' if self.log else ''}"


def load_space(space: str | Path | dict, cfg: Config) -> list[Param]:
    """Parse and check a space (YAML path or dict) against ``cfg``: unknown keys, empty ranges."""
    raw = space if isinstance(space, dict) else _read_yaml(Path(space))
    if not raw:
        raise ConfigError("search space is empty: give at least one parameter")
    params = [_param(str(name), spec) for name, spec in raw.items()]
    for p in params:
        sample = p.choices[0] if p.kind == "categorical" else (int(p.low) if p.kind == "int" else p.low)
        try:
            validate(with_values(cfg, {p.name: sample}))
        except ConfigError as e:
            raise ConfigError(f"search space parameter '{p.name}' is not a valid config key or value: {e}") from None
    return params


def grid_space(params: list[Param]) -> dict[str, list[Any]]:
    """Parameter -> the values a grid search tries (Optuna's ``GridSampler`` search space)."""
    space = {p.name: p.grid_values() for p in params}
    size = math.prod(len(values) for values in space.values())
    if size > MAX_GRID:
        raise ConfigError(f"search space grid has {size} points (more than {MAX_GRID}); give 'grid' values")
    return space


def grid_size(params: list[Param]) -> int:
    return math.prod(len(values) for values in grid_space(params).values())


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise UserError(f"search space file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"search space {path} is not valid YAML: {e}") from None
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"search space {path} must map config keys to parameter specs")
    return raw or {}


def _param(name: str, spec: Any) -> Param:
    where = f"search space parameter '{name}'"
    if not isinstance(spec, dict) or spec.get("type") not in _KEYS:
        raise ConfigError(f"{where} needs 'type: float | int | categorical'")
    kind = spec["type"]
    unknown = set(spec) - _KEYS[kind] - {"type"}
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))} for type {kind} "
                          f"(valid: {', '.join(sorted(_KEYS[kind]))})")
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: 'choices' must be a non-empty list")
        return Param(name, kind, choices=tuple(choices))
    low, high = _number(spec, "low", where, kind), _number(spec, "high", where, kind)
    if not low < high:
        raise ConfigError(f"{where}: empty range, low ({low}) must be below high ({high})")
    log, step = bool(spec.get("log", False)), spec.get("step", 1)
    if log and low <= 0:
        raise ConfigError(f"{where}: a log range needs low > 0, got {low}")
    if not isinstance(step, int) or step < 1 or (log and step != 1):
        raise ConfigError(f"{where}: 'step' must be a positive integer (and 1 with log)")
    grid = tuple(spec.get("grid") or ())
    if any(not isinstance(v, (int, float)) or not low <= v <= high for v in grid):
        raise ConfigError(f"{where}: every 'grid' value must be a number in [{low}, {high}]")
    return Param(name, kind, float(low) if kind == "float" else int(low), float(high) if kind == "float"
                 else int(high), log, step, grid=grid)


def _number(spec: dict, key: str, where: str, kind: str) -> float:
    value = spec.get(key)
    if isinstance(value, str):  # YAML 1.1 reads 1e-3 as text
        try:
            value = float(value)
        except ValueError:
            pass
    ok = isinstance(value, int) if kind == "int" else isinstance(value, (int, float))
    if not ok or isinstance(value, bool):
        raise ConfigError(f"{where}: '{key}' must be {'an integer' if kind == 'int' else 'a number'}")
    return value
