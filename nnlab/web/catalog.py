"""What the New-model page offers: every task with its model registry (each builder's options) and its ready
configs (``configs/<task>/*.yaml``), the optimizers and the learning-rate schedules."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

import nnlab
from nnlab import config as cfgmod
from nnlab.errors import ConfigError, UserError
from nnlab.optim import OPTIMIZERS, SCHEDULES
from nnlab.tasks import TASKS


def default_configs() -> Path:
    """``configs/`` of the current folder, else the one beside the installed package (a source checkout)."""
    here = Path.cwd() / "configs"
    return here if here.is_dir() else Path(nnlab.__file__).resolve().parents[1] / "configs"


def plain(value: Any) -> Any:
    """A builder default as JSON data (tuples become lists; anything else but dicts its repr)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return repr(value)


def task_models(task: str) -> dict[str, dict[str, Any]]:
    """Every model of a task's registry with its options and their defaults (the data arguments left out)."""
    if task == "detect":
        import nnlab.models.detection  # noqa: F401  registers the detectors (deferred by the task: slow import)
    cls = TASKS.get(task)
    out = {}
    for name in cls.models.names():
        opts = cls.models.options(name, exclude=cls.data_args)
        out[name] = {k: plain(None if p.default is p.empty else p.default) for k, p in opts.items()}
    return out


def presets(configs: Path, task: str) -> dict[str, dict[str, Any]]:
    """The ready training configs of a task (``<task>/<file>.yaml`` -> its raw sections); files that do not read
    as one are skipped."""
    out = {}
    for path in sorted((configs / task).glob("*.yaml")):
        try:
            raw = yaml.load(path.read_text(), Loader=cfgmod.UniqueKeyLoader)
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(raw, dict) and raw.get("task", "classify") == task and _trains(raw):
            out[f"{task}/{path.name}"] = raw
    return out


def _trains(raw: dict[str, Any]) -> bool:
    """Whether a config is a training job (not e.g. a tabular ``nnlab rl solve`` config) with known names."""
    try:
        cfg = cfgmod.from_dict(raw)
        TASKS.build(cfg.task, cfg=cfg).check_model_options()
    except UserError:
        return False
    return True


def preset(configs: Path, name: str) -> dict[str, Any]:
    """One ready config by its listed name (never a path a user made up)."""
    task = name.split("/", 1)[0]
    found = presets(configs, task).get(name) if task in TASKS.names() else None
    if found is None:
        raise ConfigError(f"no ready config {name!r} (see configs/<task>/*.yaml)")
    return found


def catalog(configs: Path) -> dict[str, Any]:
    """Tasks (models, ready configs, default monitor), optimizers and schedules; ``models``: classification's."""
    tasks = {}
    for name in TASKS.names():
        cls = TASKS.get(name)
        try:
            models = task_models(name)
        except (ImportError, UserError) as e:  # a task whose optional dependency is missing stays listed
            models, why = {}, str(e)
        else:
            why = None
        tasks[name] = {"models": models, "configs": presets(configs, name), "monitor": cls.monitor,
                       "unavailable": why}
    optims = {n: {"lr": e.lr, "rule": e.rule, "defaults": plain(e.defaults)} for n, e in OPTIMIZERS.items()}
    return {"tasks": tasks, "models": tasks["classify"]["models"], "optimizers": optims,
            "schedules": {n: e.formula for n, e in SCHEDULES.items()}}
