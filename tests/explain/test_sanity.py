"""The Adebayo sanity check: gradient maps change when the weights are randomized; a model-blind map does not."""
from __future__ import annotations

import torch
from torch import nn

from nnlab.explain.attribution import attribute
from nnlab.explain.sanity import (cascading_randomization, label_randomization, parameterized_layers,
                                  rank_correlation, shuffled_label_config)


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(64, 16), nn.ReLU(),
                         nn.Linear(16, 3))


def test_rank_correlation_is_spearman():
    a = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    assert rank_correlation(a, a ** 3) == 1.0  # monotone: same ranks
    assert rank_correlation(a, -a) == -1.0
    assert rank_correlation(a, torch.zeros_like(a)) == 0.0  # a constant map carries no ranking


def test_randomizing_the_weights_changes_saliency_maps():
    model, x, t = net(), torch.randn(4, 1, 4, 4), torch.tensor([0, 1, 2, 0])
    before = [p.clone() for p in model.parameters()]
    r = cascading_randomization(model, lambda m, x, t: attribute(m, x, "saliency", t), x, t)
    assert r.layers == list(reversed(parameterized_layers(model))) == ["5", "3", "0"]
    assert len(r.correlations) == 3 and r.final < 0.5 and r.passed
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # the caller's model is untouched


def test_a_map_that_ignores_the_model_fails_the_check():
    model, x, t = net(), torch.randn(4, 1, 4, 4), torch.tensor([0, 1, 2, 0])
    edges = lambda m, x, t: (x[:, 0, :, 1:] - x[:, 0, :, :-1]).abs()  # noqa: E731  an edge detector
    r = cascading_randomization(model, edges, x, t)
    assert r.correlations == [1.0, 1.0, 1.0] and not r.passed


def test_label_randomization_compares_two_models_maps():
    x, t = torch.randn(4, 1, 4, 4), torch.tensor([0, 1, 2, 0])
    saliency = lambda m, x, t: attribute(m, x, "saliency", t)  # noqa: E731
    assert label_randomization(net(), net(), saliency, x, t) == 1.0  # the same weights: the same maps
    torch.manual_seed(5)
    other = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(64, 16), nn.ReLU(),
                          nn.Linear(16, 3))
    assert label_randomization(net(), other, saliency, x, t) < 0.5
    edges = lambda m, x, t: (x[:, 0, :, 1:] - x[:, 0, :, :-1]).abs()  # noqa: E731
    assert label_randomization(net(), other, edges, x, t) == 1.0  # blind to the model: fails


def test_shuffled_label_config_keeps_the_images_and_permutes_the_labels(tmp_path):
    from nnlab import config as cfgmod
    from nnlab.api import build_data

    cfg = {"name": "mlp", "seed": 0, "data": {"dataset": "digits", "train_size": 200}, "model": {"name": "mlp"},
           "optim": {"name": "adam", "lr": 0.01}, "train": {"epochs": 1, "batch_size": 32}}
    shuffled = shuffled_label_config(cfg, tmp_path / "shuffled", seed=3)
    assert shuffled["data"]["dataset"] == "cache" and shuffled["model"] == cfg["model"]
    before, pre_a = build_data(cfgmod.from_dict(cfg), progress=False)
    after, pre_b = build_data(cfgmod.from_dict(shuffled), progress=False)
    assert pre_a == pre_b and set(after) == {"train", "test"}  # no validation split: nothing to validate
    for name in after:
        a, b = before[name], after[name]
        assert torch.equal(a.images, b.images)
        assert torch.equal(a.labels.sort().values, b.labels.sort().values)  # the same label counts
    assert torch.equal(before["test"].labels, after["test"].labels)
    assert (before["train"].labels != after["train"].labels).float().mean() > 0.5  # most labels moved
