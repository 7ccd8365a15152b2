import math

import pytest

from nnlab.experiments.studies import StudyContext
from nnlab.experiments.studies.detection_runs import cycle_batches, measure, scenes_config, with_overrides


def test_cycle_batches_repeats_a_short_loader():
    from itertools import islice

    assert list(islice(cycle_batches([1, 2]), 5)) == [1, 2, 1, 2, 1]


def test_command_line_overrides_reach_the_configs_built_in_code(tmp_path):
    cfg = scenes_config("t", {"name": "ssd"}, n=40, n_test=8, epochs=3)
    ctx = StudyContext(tmp_path, overrides=["--train.epochs=1", "--detect.scenes.n=10"])
    changed = with_overrides(ctx, cfg)
    assert changed["train"]["epochs"] == 1 and changed["detect"]["scenes"]["n"] == 10
    assert changed["model"] == {"name": "ssd"} and cfg["train"]["epochs"] == 3  # the rest kept, input untouched
    assert with_overrides(StudyContext(tmp_path), cfg) == cfg


@pytest.mark.slow
def test_measure_trains_and_reports_sizes_params_and_speed(tmp_path, monkeypatch):
    monkeypatch.setenv("NNLAB_MNIST", str(tmp_path / "absent"))  # scikit-learn's digits: no shared data needed
    cfg = scenes_config("t", {"name": "ssd", "width": 4}, n=12, n_test=4, epochs=1, size=64, batch_size=8,
                        scale=(1.0, 1.5))
    m = measure(StudyContext(tmp_path, log=lambda s: None), cfg)
    assert 0 <= m.map50 <= 1 and 0 <= m.map <= 1 and m.params > 1000
    assert m.train_ips > 0 and m.eval_ips > 0 and m.train_cpu_s > 0
    assert math.isnan(m.large)  # no object of 96^2 pixels in a 64 px scene
