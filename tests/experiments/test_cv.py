import numpy as np
import pytest

from nnlab.errors import DataError
from nnlab.experiments.cv import cross_validate, make_folds


def _labels():
    return np.repeat(np.arange(3), [30, 20, 10])  # imbalanced classes, smallest has 10


@pytest.mark.parametrize("stratified", [False, True])
def test_folds_are_disjoint_and_cover_the_data(stratified):
    y = _labels()
    folds = make_folds(y, 5, stratified, seed=0)
    vals = np.concatenate([va for _, va in folds])
    assert sorted(vals.tolist()) == list(range(len(y)))  # every sample validated exactly once
    for tr, va in folds:
        assert not set(tr) & set(va)
        assert len(tr) + len(va) == len(y)


def test_stratified_folds_keep_class_ratios():
    y = _labels()
    for _, va in make_folds(y, 5, True, seed=1):
        assert np.bincount(y[va], minlength=3).tolist() == [6, 4, 2]  # 30/20/10 split five ways


@pytest.mark.parametrize("k", [1, 11])
def test_bad_fold_counts_fail_before_work(k):
    with pytest.raises(DataError, match="fold"):
        make_folds(_labels(), k, True, seed=0)


def test_cross_validate_trains_one_run_per_fold(tiny_config, tmp_path):
    r = cross_validate(tiny_config, folds=2, stratified=True, refit=True, runs_root=tmp_path)
    assert len(r.folds) == 2
    assert sum(f.val_size for f in r.folds) == r.folds[0].train_size + r.folds[0].val_size
    assert all(0.2 < f.val_acc <= 1 for f in r.folds)
    assert r.summary["val_acc"][0] == pytest.approx(np.mean([f.val_acc for f in r.folds]))
    assert r.test is not None and r.refit_dir.is_dir()


def test_cv_cli_rejects_too_many_folds(tmp_path, cli):
    import yaml

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"data": {"dataset": "digits", "train_size": 40}, "model": {"name": "mlp"}}))
    res = cli("cv", str(cfg), "--folds", "20", "--runs", str(tmp_path / "runs"))
    assert res.returncode == 2
    assert "smallest class" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "runs").exists()
