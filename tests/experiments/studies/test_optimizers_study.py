"""The optimizers study's verdict on synthetic results: Adam must test lower AND overfit more."""
import pytest
from study_outcomes import HIGH, LOW, TIE

from nnlab.experiments.studies.optimizers import optimizer_verdict

TRAIN = [1.0, 1.0, 1.0]


def _res(adam_test, sgd_test, adam_train=TRAIN):
    res = {n: {"train": TRAIN, "test": [t - 0.3 for t in sgd_test]} for n in ("sgd", "nesterov")}
    return {**res, "momentum": {"train": TRAIN, "test": sgd_test}, "adam": {"train": adam_train, "test": adam_test}}


@pytest.mark.parametrize("res, outcome", [
    (_res(LOW, HIGH), "supported"),  # lower test accuracy, so a larger gap at equal training accuracy
    (_res(HIGH, LOW), "not supported"),
    (_res(TIE, TIE), "inconclusive"),
    (_res(LOW, HIGH, adam_train=[a - 0.1 for a in LOW]), "not supported"),  # worse, but a smaller gap
])
def test_optimizer_verdict(res, outcome):
    got, text = optimizer_verdict(res)
    assert got == outcome and f"generalize worse is {outcome}" in text and "Best SGD-family optimizer: momentum" in text
