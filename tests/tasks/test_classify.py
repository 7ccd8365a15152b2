"""The classification task's metrics against torchmetrics and scikit-learn on the same inputs."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from nnlab.models.losses import LOSSES
from nnlab.tasks.classify import Classify

torchmetrics = pytest.importorskip("torchmetrics")


class Fixed(nn.Module):
    """Returns the logits stored for the batch (the 'model' is a lookup by sample index)."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.logits[idx]


def test_evaluator_equals_torchmetrics_over_batches():
    g = torch.Generator().manual_seed(0)
    logits, labels = torch.randn(203, 7, generator=g), torch.randint(0, 7, (203,), generator=g)
    task = Classify(loss=LOSSES.build("cross_entropy"), num_classes=7)
    ev = task.evaluator()
    for lo in range(0, 203, 50):  # uneven batches
        idx = torch.arange(lo, min(lo + 50, 203))
        ev.update(Fixed(logits), (idx, labels[idx]))
    out = ev.compute()
    acc = torchmetrics.functional.classification.multiclass_accuracy(logits, labels, 7, average="micro")
    top5 = torchmetrics.functional.classification.multiclass_accuracy(logits, labels, 7, top_k=5, average="micro")
    cm = torchmetrics.functional.classification.multiclass_confusion_matrix(logits, labels, 7)
    assert out["acc"] == pytest.approx(float(acc), abs=1e-6)  # torchmetrics: float32
    assert out["top5"] == pytest.approx(float(top5), abs=1e-6)
    assert out["loss"] == pytest.approx(float(nn.functional.cross_entropy(logits, labels)), abs=1e-6)
    assert torch.equal(ev.confusion(), cm)


def test_training_logs_accuracy_and_keeps_the_penalty_apart():
    from nnlab.regularize.hooks import StepRegularizer
    from nnlab.regularize.penalties import Penalty

    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    x, y = torch.randn(8, 4), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    plain = Classify(loss=LOSSES.build("cross_entropy"), num_classes=3)
    loss, logs = plain.training_step(model, (x, y))
    assert set(logs) == {"acc"} and float(logs["acc"]) == float((model(x).argmax(1) == y).float().mean())
    reg = Classify(loss=LOSSES.build("cross_entropy"), num_classes=3,
                   regularizer=StepRegularizer(Penalty(l2=0.1)))
    total, logs = reg.training_step(model, (x, y))
    assert float(logs["loss"]) == pytest.approx(float(loss.detach())) and float(logs["penalty"]) > 0
    assert float(total.detach()) == pytest.approx(float(loss.detach()) + float(logs["penalty"]))
