import numpy as np
import pytest
import torch
from scipy import stats

from nnlab.errors import UserError
from nnlab.experiments.bootstrap import bootstrap, classification_statistics


def test_interval_covers_the_true_mean_at_the_stated_rate():
    """90% intervals of the mean of Bernoulli(0.8) samples: about 90% of 300 experiments cover 0.8."""
    rng = np.random.default_rng(0)
    covered = 0
    experiments = 300
    for i in range(experiments):
        x = (rng.random(200) < 0.8).astype(float)
        ci = bootstrap({"mean": lambda idx: x[idx].mean(1)}, len(x), resamples=400, confidence=0.9, seed=i)["mean"]
        covered += ci["low"] <= 0.8 <= ci["high"]
    rate = covered / experiments
    assert abs(rate - 0.9) < 3 * np.sqrt(0.9 * 0.1 / experiments) + 0.02  # binomial tolerance


def test_matches_scipy_percentile_bootstrap():
    x = np.random.default_rng(1).normal(size=150)
    ours = bootstrap({"mean": lambda idx: x[idx].mean(1)}, len(x), resamples=4000, confidence=0.95)["mean"]
    ref = stats.bootstrap((x,), np.mean, n_resamples=4000, method="percentile", confidence_level=0.95,
                          random_state=0).confidence_interval
    assert ours["low"] == pytest.approx(ref.low, abs=0.03)
    assert ours["high"] == pytest.approx(ref.high, abs=0.03)
    assert ours["value"] == pytest.approx(x.mean())


def test_classification_statistics_on_the_full_sample():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0], [0.0, 2.0]])
    labels = torch.tensor([0, 1, 1, 1])
    s = classification_statistics(logits, labels)
    full = np.arange(4)[None]
    assert s["acc"](full)[0] == pytest.approx(0.75)
    assert s["loss"](full)[0] == pytest.approx(torch.nn.functional.cross_entropy(logits, labels).item(), rel=1e-6)
    from sklearn.metrics import f1_score

    assert s["macro_f1"](full)[0] == pytest.approx(f1_score(labels, logits.argmax(1), average="macro"))


@pytest.mark.parametrize("kw", [{"confidence": 1.5}, {"resamples": 3}])
def test_bad_arguments(kw):
    with pytest.raises(UserError):
        bootstrap({"m": lambda idx: idx.mean(1)}, 10, **kw)
