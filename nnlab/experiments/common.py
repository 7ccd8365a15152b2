"""Small helpers shared by the experiments: configs with overrides, mean ± std, markdown tables."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nnlab import config as cfgmod
from nnlab.config import Config
from nnlab.errors import ConfigError

ConfigLike = Config | str | Path | dict


def resolve(config: ConfigLike, overrides: Sequence[str] = ()) -> Config:
    """A Config from an object, a YAML path or a dict, with ``section.key=value`` overrides applied."""
    if isinstance(config, Config):
        return cfgmod.from_dict(cfgmod.apply_overrides(cfgmod.to_dict(config), list(overrides)))
    if isinstance(config, dict):
        return cfgmod.from_dict(cfgmod.apply_overrides(config, list(overrides)))
    return cfgmod.load(config, list(overrides))


def with_values(cfg: Config, values: dict[str, Any]) -> Config:
    """A copy of ``cfg`` with dotted keys set to (any YAML-able) values, e.g. ``{"model.hidden": [64]}``."""
    raw = cfgmod.to_dict(cfg)
    for dotted, value in values.items():
        node = raw
        *parents, last = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"'{key}' in '{dotted}' is not a config section")
        node[last] = value
    return cfgmod.from_dict(raw)


def split_seed(cfg: Config) -> int:
    """The seed of the config's val/test split: kept fixed when members of an ensemble vary ``seed``."""
    return cfg.seed if cfg.data.split_seed is None else cfg.data.split_seed


def member(cfg: Config, name: str, seed: int) -> Config:
    """A copy of ``cfg`` for one of several related runs: own name and seed, the same test split."""
    return with_values(cfg, {"name": name, "seed": seed, "data.split_seed": split_seed(cfg)})


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


def fmt_ms(values: Sequence[float], percent: bool = True) -> str:
    m, s = mean_std(values)
    return f"{100 * m:.2f} ± {100 * s:.2f}" if percent else f"{m:.4g} ± {s:.2g}"


def markdown_table(header: Sequence[Any], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def save_figure(fig: Any, path: Path) -> Path:
    """Write a matplotlib figure as PNG and free it."""
    from nnlab.plots import plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
