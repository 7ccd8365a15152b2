"""The bptt study's parts on a tiny generated text: its run per window and the epoch times it reads."""

from nnlab.experiments.studies.bptt import base_config, epoch_times, study
from nnlab.experiments.studies.report import StudyContext


def test_study_runs_one_config_per_window_and_reports_speed(tmp_path, monkeypatch):
    import nnlab.experiments.studies.bptt as mod

    assert base_config(False)["sequence"]["max_chars"] == 300_000 and base_config(True)["sequence"]["max_chars"] is None
    tiny = {"name": "b", "task": "sequence", "data": {"dataset": "sums"}, "sequence": {"generated_chars": 3000},
            "model": {"name": "gru", "hidden": 8, "embed": 4}, "train": {"epochs": 1, "batch_size": 4}}
    monkeypatch.setattr(mod, "base_config", lambda full: tiny)
    report = study(StudyContext(tmp_path, log=lambda s: None))
    (table,) = report.tables
    assert [r[0] for r in table.rows] == [8, 32, 128] and all(float(r[3]) > 0 for r in table.rows)
    runs = sorted((tmp_path / "runs" / "sequence").iterdir())
    assert len(runs) == 3 and len(epoch_times(runs[0])) == 1
    assert report.figures[0].is_file() and "T = " in report.verdict
