"""The pixelcnn-vs-pixelrnn study on tiny models and scikit-learn digits: one run per model, the measured
quantities, the verdict's arithmetic and the figure."""
import math

import pytest

import nnlab.experiments.studies.pixel_models as mod
from nnlab.experiments.studies import STUDIES, StudyContext

TINY = {"pixelcnn": {"name": "pixelcnn", "channels": 4, "blocks": 1, "levels": 2},
        "pixelrnn": {"name": "pixelrnn", "channels": 4, "layers": 1, "levels": 2}}


def test_config_is_the_same_for_both_models_but_the_model():
    data = {"dataset": "digits", "train_size": 64}
    a, b = (mod.pixel_config(n, m, data, 1) for n, m in mod.MODELS.items())
    assert a["model"] != b["model"] and {**a, "model": None, "name": None} == {**b, "model": None, "name": None}
    assert a["generate"]["binarize"] == 0.5 and a["generate"]["epoch_samples"] is False


def test_verdict_reads_the_ratios():
    r = {"pixelcnn": {"nll": 80.0, "train_ips": 100.0, "sample_ips": 2.0},
         "pixelrnn": {"nll": 82.0, "train_ips": 25.0, "sample_ips": 1.0}}
    v = mod._verdict(r)
    assert "4.0x" in v and "is supported" in v and "50x" in v and "25x" in v
    r["pixelrnn"]["train_ips"] = 200.0
    assert "not supported" in mod._verdict(r)


@pytest.mark.slow
def test_study_runs_both_models_on_digits(tmp_path, monkeypatch):
    monkeypatch.setattr(mod, "MODELS", TINY)
    monkeypatch.setattr(mod, "QUICK", {"train_size": 48, "epochs": 1, "samples": 2})
    monkeypatch.setattr(mod, "mnist_data", lambda size: {"dataset": "digits", "train_size": size})
    assert "pixelcnn-vs-pixelrnn" in STUDIES.names()
    report = mod.study(StudyContext(tmp_path, log=lambda s: None))
    (table,) = report.tables
    assert [r[0] for r in table.rows] == ["pixelcnn", "pixelrnn"]
    for row in table.rows:
        nll, train_ips, sample_ips = float(row[2]), float(row[4]), float(row[5])
        assert 0 < nll < 64 * math.log(2) * 2 and train_ips > sample_ips > 0  # 8x8 binary pixels
    assert len(list((tmp_path / "runs" / "generate").iterdir())) == 2
    assert report.figures[0].is_file() and "PixelCNN trains" in report.verdict
