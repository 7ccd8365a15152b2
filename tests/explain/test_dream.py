"""Gradient ascent synthesizes inputs the model reads as the target class."""
from __future__ import annotations

import pytest
import torch

from nnlab.errors import UserError
from nnlab.explain.common import open_classifier
from nnlab.explain.dream import Objective, Regularizers, class_probability, dream, gaussian_blur


@pytest.mark.parametrize("cls", [0, 3, 7])
def test_class_model_is_read_as_its_class_with_the_regularizers_on(mlp_run, cls):
    run = open_classifier(mlp_run)
    x = dream(run, Objective(cls), steps=100)
    assert class_probability(run.model, x, cls) > 0.9
    lo, hi = run.pixel_range()
    assert bool((x >= lo - 1e-6).all() and (x <= hi + 1e-6).all())  # clipped to real pixels


def test_without_clipping_the_image_leaves_the_pixel_range(mlp_run):
    run = open_classifier(mlp_run)
    x = dream(run, Objective(1), Regularizers(l2=0, blur_sigma=0, jitter=0, clip=False), steps=100)
    assert class_probability(run.model, x, 1) > 0.99 and float(x.max()) > float(run.pixel_range()[1].max())


def test_unit_maximization_raises_the_unit(mlp_run):
    run = open_classifier(mlp_run)
    obj = Objective(layer="features.0", unit=5)
    x = dream(run, obj, steps=30)
    with torch.no_grad():
        act = run.model.features[0](x.flatten(1))[0, 5]
        start = run.model.features[0](torch.zeros(1, 64))[0, 5]
    assert float(act) > float(start) + 1


def test_bad_objectives_are_refused_before_any_step(mlp_run):
    run = open_classifier(mlp_run)
    with pytest.raises(UserError, match="out of range: the run has 10 classes"):
        dream(run, Objective(10))
    with pytest.raises(UserError, match="give --class C, or --layer L"):
        dream(run, Objective())
    with pytest.raises(UserError, match="has 64 units"):
        dream(run, Objective(layer="features.0", unit=64))
    with pytest.raises(UserError, match="valid layers: .*features.0"):
        dream(run, Objective(layer="feature.0", unit=1))


def test_gaussian_blur_keeps_the_mean_of_a_constant_and_smooths_a_spike():
    x = torch.zeros(1, 1, 7, 7)
    x[0, 0, 3, 3] = 1.0
    y = gaussian_blur(x, 1.0)
    assert abs(float(y.sum()) - 1.0) < 1e-5 and float(y[0, 0, 3, 3]) < 0.5
    torch.testing.assert_close(gaussian_blur(torch.ones(1, 2, 5, 5), 0.5), torch.ones(1, 2, 5, 5))

