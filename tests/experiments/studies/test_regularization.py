import pytest

from nnlab.config import from_dict
from nnlab.experiments.studies import STUDIES, StudyContext, run_study
from nnlab.experiments.studies.regularization import SETTINGS, _skip_reason, setting_config


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


def test_options_the_model_lacks_are_skipped_with_a_note(digits_config):
    base = from_dict(digits_config)  # mlp
    cfg_for = lambda v: setting_config(base, "x", v, 0, 1, None)  # noqa: E731
    assert "model.norm" in _skip_reason(cfg_for, {"model.norm": "nope"})
    assert _skip_reason(cfg_for, {"model.dropout": 0.3}) is None


@pytest.mark.slow
def test_quick_study_on_digits_writes_the_report(tmp_path, digits_config):
    import yaml

    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({**digits_config, "model": {"name": "mlp", "hidden": [16]}}))
    report, path = run_study("regularization", StudyContext(tmp_path / "out", repeats=1, base=str(base),
                                                            train_size=300, log=lambda s: None))
    text = path.read_text()
    assert "| nothing |" in text and "regularization_curves.png" in text and "Verdict" in text
    assert (tmp_path / "out" / "regularization_bars.png").is_file()
    assert len(report.tables[0].rows) >= len(SETTINGS)
