import csv

import pytest
import torch

import nnlab
from nnlab.config import RegularizeConfig, from_dict
from nnlab.errors import ConfigError
from nnlab.regularize import build, chain, check_mixable
from nnlab.regularize.hooks import TargetTransform


def test_nothing_on_builds_nothing():
    assert build(RegularizeConfig(), 10) == (None, None)
    step, tf = build(from_dict({"regularize": {"l2": 1e-3, "mixup": 0.2}}).regularize, 10)
    assert step is not None and tf is not None


def test_target_transform_smooths_then_keeps_the_dominant_label():
    tf = TargetTransform(4, label_smoothing=0.2)
    x, y = torch.zeros(3, 1, 2, 2), torch.tensor([0, 3, 1])
    x2, t = tf(x, y)
    assert x2 is x and torch.equal(t.argmax(1), y)
    torch.testing.assert_close(t.sum(1), torch.ones(3))
    torch.testing.assert_close(t[0], torch.tensor([0.85, 0.05, 0.05, 0.05]))


def test_chain_runs_in_order_and_skips_none():
    add = lambda x, y: (x + 1, y)  # noqa: E731
    dbl = lambda x, y: (x * 2, y)  # noqa: E731
    assert chain(None, None) is None
    assert chain(add, None, dbl)(torch.ones(1), torch.zeros(1))[0].item() == 4


def test_mixing_refused_for_tasks_whose_labels_cannot_be_mixed():
    check_mixable("classify", 0.2, 1.0)
    check_mixable("detect", 0.0, 0.0)
    with pytest.raises(ConfigError, match="regularize.cutmix"):
        check_mixable("detect", 0.0, 1.0)


@pytest.mark.parametrize("raw, key", [
    ({"l2": -1e-4}, "regularize.l2"), ({"l1": -1}, "regularize.l1"), ({"mix_prob": 1.5}, "regularize.mix_prob"),
    ({"switch_prob": -0.1}, "regularize.switch_prob"), ({"label_smoothing": 1.0}, "regularize.label_smoothing"),
    ({"noise": {"weight_std": -1}}, "regularize.noise.weight_std"), ({"mixup": -0.2}, "regularize.mixup"),
])
def test_bad_values_name_the_key(raw, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        from_dict({"regularize": raw})


def test_training_logs_the_penalty_as_its_own_term(digits_config, tmp_path):
    cfg = {**digits_config, "train": {"epochs": 1, "batch_size": 64},
           "regularize": {"l2": 1e-3, "label_smoothing": 0.1, "cutmix": 1.0, "noise": {"weight_std": 0.01}}}
    run = nnlab.fit(cfg, runs_root=tmp_path, progress=False)
    row = next(csv.DictReader(open(run.dir / "metrics.csv")))
    assert float(row["penalty"]) > 0 and run.meta["status"] == "completed"
    assert float(row["loss"]) < 3
