"""Sanity checks for saliency maps (Adebayo et al. 2018): if a map still looks the same after the model's
weights are randomized, it explains the image (an edge detector would pass as well), not the model.

Cascading randomization: from the top layer (the logits) down, re-initialize one more parameterized layer at a
time and compare the new maps with the trained model's by Spearman rank correlation (mean over images). A method
passes when its maps of the fully randomized model correlate below ``THRESHOLD`` with the original ones.
Label randomization: train the same model on the same images with their labels shuffled (so it can only
memorize) and compare its maps with the true-label model's for the same classes, the same way.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from nnlab.explain.common import named_layers

THRESHOLD = 0.5  # mean rank correlation with the trained model's maps above which the check fails
Explainer = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]  # (model, x, target) -> (N, H, W)


@dataclass
class SanityResult:
    layers: list[str]  # randomized cumulatively, top first
    correlations: list[float]  # mean Spearman rho after randomizing layers[: i + 1]

    @property
    def final(self) -> float:
        return self.correlations[-1] if self.correlations else float("nan")

    @property
    def passed(self) -> bool:
        return bool(self.final < THRESHOLD)


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over images of Spearman's rho between maps a and b (N, H, W); a constant map counts as 0."""
    from scipy.stats import spearmanr

    rhos = []
    for u, v in zip(a.flatten(1).numpy(), b.flatten(1).numpy()):
        rho = spearmanr(u, v).statistic if u.std() > 0 and v.std() > 0 else 0.0
        rhos.append(0.0 if np.isnan(rho) else float(rho))
    return float(np.mean(rhos))


def parameterized_layers(model: nn.Module) -> list[str]:
    """Leaf layers that own parameters, in registration (roughly forward) order."""
    return [n for n, m in named_layers(model) if any(True for _ in m.parameters(recurse=False))]


def randomize_layer(module: nn.Module, seed: int) -> None:
    """Re-initialize one layer as it was before training (its own ``reset_parameters``), seeded."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
        else:
            for p in module.parameters(recurse=False):
                nn.init.normal_(p, 0.0, 0.05)
        if hasattr(module, "reset_running_stats"):
            module.reset_running_stats()


def cascading_randomization(model: nn.Module, explain: Explainer, x: torch.Tensor, target: torch.Tensor,
                            seed: int = 0) -> SanityResult:
    """Rank correlation of ``explain``'s maps before and after randomizing the top 1, 2, ... layers. The maps
    always explain the same ``target`` classes; the caller's model is untouched."""
    base = explain(model, x, target)
    clone = copy.deepcopy(model).eval()
    layers = list(reversed(parameterized_layers(clone)))
    rhos = []
    for i, name in enumerate(layers):
        randomize_layer(clone.get_submodule(name), seed + i)
        rhos.append(rank_correlation(base, explain(clone, x, target)))
    return SanityResult(layers, rhos)


def label_randomization(model: nn.Module, shuffled: nn.Module, explain: Explainer, x: torch.Tensor,
                        target: torch.Tensor) -> float:
    """Mean Spearman rho between the maps of a model and of the same model trained on shuffled labels, both
    explaining ``target`` (N,) on x; pass below ``THRESHOLD``."""
    return rank_correlation(explain(model, x, target), explain(shuffled, x, target))


def shuffled_label_config(config: dict[str, Any], out: str | Path, seed: int = 0) -> dict[str, Any]:
    """The classification config's training images with their labels permuted (test split kept as it is), built
    once into ``out`` as a cache dataset; returns the config that trains on it (same model, optimizer, epochs).
    No validation split: shuffled labels leave nothing to validate, and ``best`` becomes the lowest training loss
    (the most memorized weights). The images and the preprocessing fitted on them are those of ``config``."""
    from nnlab import config as cfgmod
    from nnlab.api import build_data
    from nnlab.data import cache

    splits, _ = build_data(cfgmod.from_dict(config), progress=False)
    g = torch.Generator().manual_seed(seed)
    train = splits["train"]
    shuffled = {"train": replace(train, labels=train.labels[torch.randperm(len(train), generator=g)]),
                "test": splits["test"]}
    root = cache.build(shuffled, out, source=f"{config.get('name', 'run')} with shuffled labels (seed {seed})")
    kept = {k: v for k, v in config.get("data", {}).items()
            if k in ("resize_mode", "normalize", "orientation_sensitive")}
    data = {**kept, "dataset": "cache", "path": str(Path(root).resolve()), "val_fraction": 0.0}
    return {**config, "name": f"{config.get('name', 'run')}_shuffled_labels", "data": data}
