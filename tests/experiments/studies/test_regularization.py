import pytest
from study_outcomes import HIGH, LOW, TIE

from nnlab.config import from_dict
from nnlab.experiments.studies import STUDIES, StudyContext, run_study
from nnlab.experiments.studies.regularization import (SETTINGS, Result, regularization_verdict, run_setting,
                                                      setting_config)


def test_registered_with_every_setting_of_the_notes():
    assert "regularization" in STUDIES.names()
    names = [n for n, _ in SETTINGS]
    for n in ("nothing", "L2", "L1", "dropout", "batch norm", "augmentation", "input noise", "label smoothing",
              "mixup", "CutMix", "early stopping"):
        assert n in names


def test_setting_config_changes_only_the_setting(digits_config):
    base = from_dict(digits_config)
    cfg = setting_config(base, "label smoothing", {"regularize.label_smoothing": 0.1}, 2, 5, 300)
    assert cfg.regularize.label_smoothing == 0.1 and cfg.seed == 2 and cfg.train.epochs == 5
    assert cfg.data.train_size == 300 and cfg.model == base.model and cfg.optim == base.optim


def test_options_the_model_lacks_are_skipped_with_a_note(digits_config, tmp_path):
    ctx = StudyContext(tmp_path, repeats=1, log=lambda s: None)
    res = run_setting(ctx, from_dict(digits_config), "x", {"model.no_such_option": 1}, 2, 1)
    assert "model.no_such_option" in res.skipped and not res.test and not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_quick_study_on_digits_writes_the_report(tmp_path, digits_config):
    import yaml

    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({**digits_config, "model": {"name": "mlp", "hidden": [16]}}))
    report, path = run_study("regularization", StudyContext(tmp_path / "out", repeats=1, base=str(base),
                                                            train_size=300, log=lambda s: None))
    text = path.read_text()
    assert "| nothing |" in text and "regularization_curves.png" in text
    assert f"## Verdict\n\n{report.verdict}" in text and "That regularization helps here is " in report.verdict
    assert (tmp_path / "out" / "regularization_bars.png").is_file()
    assert len(report.tables[0].rows) >= len(SETTINGS)


def _result(name, test):
    return Result(name, {}, test=test)


@pytest.mark.parametrize("settings, outcome, better", [
    ([_result("L2", HIGH), _result("L1", TIE)], "supported", "L2"),
    ([_result("L2", LOW), _result("L1", [0.70, 0.71, 0.72])], "not supported", "none"),
    ([_result("L2", TIE), _result("L1", LOW)], "inconclusive", "none"),  # a tie with the baseline is no gain
])
def test_regularization_verdict(settings, outcome, better):
    got, text = regularization_verdict([_result("nothing", TIE), *settings], [])
    assert got == outcome and f"helps here is {outcome}" in text and f"Better beyond the noise: {better}." in text
