"""Trainer hooks for the optimizers: gradient clipping (norm, value) and the LBFGS closure."""
import pytest
import torch
from torch import nn

from nnlab.data import ImageDataset, Preprocess, TensorLoader
from nnlab.models.losses import LOSSES
from nnlab.engine.trainer import Trainer, evaluate
from nnlab.tasks.classify import Classify
from nnlab.optim import build_optimizer


def _setup(seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (64, 1, 4, 4), generator=g, dtype=torch.uint8)
    ds = ImageDataset(images, (images.float().mean((1, 2, 3)) > 127).long(), ["lo", "hi"])
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    return model, TensorLoader(ds, Preprocess.fit(ds.images), None)


def _fit(model, loader, opt, epochs=1, **kw):
    Trainer(model, Classify(loss=LOSSES.build("cross_entropy"), num_classes=2), opt, epochs=epochs, device=torch.device("cpu"), progress=False,
            **kw).fit(loader)


def _delta(**clip):
    model, loader = _setup()
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    _fit(model, loader, torch.optim.SGD(model.parameters(), lr=1.0), **clip)
    return before - torch.cat([p.detach().flatten() for p in model.parameters()])


def test_clip_norm_bounds_the_step():
    free = _delta()
    assert free.norm() > 0.2
    assert _delta(clip_norm=0.2).norm() == pytest.approx(0.2, rel=1e-5)


def test_clip_value_bounds_every_element():
    free = _delta()
    clipped = _delta(clip_value=0.01)
    assert free.abs().max() > 0.01 and clipped.abs().max() == pytest.approx(0.01)
    small = free.abs() < 0.01
    assert torch.allclose(clipped[small], free[small])


def test_lbfgs_steps_through_the_closure():
    model, loader = _setup()
    task = Classify(loss=LOSSES.build("cross_entropy"), num_classes=2)
    start = evaluate(model, loader, task.evaluator(), torch.device("cpu"))["loss"]
    _fit(model, loader, build_optimizer(model, "lbfgs", max_iter=10), epochs=2)
    assert evaluate(model, loader, task.evaluator(), torch.device("cpu"))["loss"] < 0.5 * start
