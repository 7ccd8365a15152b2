import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.ensemble import AdaBoostClassifier
from sklearn.tree import DecisionTreeClassifier

from nnlab.api import RunDir
from nnlab.data.splits import load_subset
from nnlab.errors import UserError
from nnlab.experiments.ensemble import (average, bagging, hard_vote, samme_predict, samme_update, snapshots,
                                        soft_vote)


def test_samme_update_follows_the_formula():
    w = np.array([0.1, 0.2, 0.3, 0.4])
    miss = np.array([1.0, 0.0, 0.0, 1.0])
    alpha, new, err = samme_update(w, miss, num_classes=3)
    assert err == pytest.approx(0.5)
    assert alpha == pytest.approx(np.log(0.5 / 0.5) + np.log(2))
    expected = w * np.exp(alpha * miss)
    assert new == pytest.approx(expected / expected.sum())


def test_samme_matches_scikit_learn_adaboost():
    """Replay scikit-learn's SAMME fit: same learners -> same learner weights and predictions."""
    x, y = make_classification(300, 6, n_informative=4, n_classes=3, random_state=0)
    ref = AdaBoostClassifier(DecisionTreeClassifier(max_depth=2), n_estimators=5, random_state=0).fit(x, y)
    w = np.full(len(y), 1 / len(y))
    alphas = []
    for est, ref_alpha, ref_err in zip(ref.estimators_, ref.estimator_weights_, ref.estimator_errors_):
        alpha, w, err = samme_update(w, (est.predict(x) != y).astype(float), 3)
        assert err == pytest.approx(ref_err) and alpha == pytest.approx(ref_alpha)
        alphas.append(alpha)
    preds = torch.as_tensor(np.stack([e.predict(x) for e in ref.estimators_]))
    assert samme_predict(preds, alphas, 3).numpy().tolist() == ref.predict(x).tolist()


def test_votes():
    preds = torch.tensor([[0, 1, 2], [0, 2, 2], [1, 1, 0]])
    assert hard_vote(preds, 3).tolist() == [0, 1, 2]
    probs = torch.tensor([[[0.6, 0.4]], [[0.0, 1.0]]])  # (M=2, N=1, K=2)
    assert soft_vote(probs).tolist() == [1]  # mean (0.3, 0.7), though one member votes 0


def test_bagging_members_see_different_bootstrap_samples(tiny_config, tmp_path):
    r = bagging(tiny_config, members=2, runs_root=tmp_path)
    assert len(r.members) == 2 and 0 < r.test_acc <= 1
    dirs = sorted((tmp_path / "classify").iterdir())
    samples = [load_subset(RunDir(d).subset)[0] for d in dirs]
    n = len(samples[0])
    for s in samples:
        assert len(s) == n and 0.55 < len(np.unique(s)) / n < 0.71  # with replacement: ~63% distinct
    assert not np.array_equal(samples[0], samples[1])


def test_average_of_snapshots_and_mismatched_test_split(tiny_config, tmp_path):
    import nnlab

    cfg = {**tiny_config, "train": {**tiny_config["train"], "epochs": 2, "checkpoint": {"keep_last": 2}}}
    run = nnlab.fit(cfg, runs_root=tmp_path, progress=False)
    specs = snapshots(run.dir)
    assert [s.rsplit("@", 1)[1] for s in specs] == ["epoch-1", "epoch-2"]
    r = average(specs)
    assert len(r.members) == 2 and r.members[1].test_acc == pytest.approx(r.members[1].test_acc)
    other = nnlab.fit({**tiny_config, "seed": 5}, runs_root=tmp_path, progress=False)  # another test split
    with pytest.raises(UserError, match="different test set"):
        average([str(run.dir), str(other.dir)])
    with pytest.raises(UserError, match="no checkpoint epoch-9"):
        average([str(run.dir), f"{run.dir}@epoch-9"])
