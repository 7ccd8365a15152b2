"""The replay study on a tiny CartPole budget: its four settings, the curves it reads and its report."""
import math

import pytest

from nnlab.engine.runs import RunDir
from nnlab.experiments.common import resolve
from nnlab.experiments.studies.replay import NO_TARGET, ONLINE, REPLAY, TARGET, base_config, curve, study, variants
from nnlab.experiments.studies.report import StudyContext

TINY = {"name": "r", "task": "rl", "seed": 1, "model": {"name": "qmlp", "hidden": [8]},
        "train": {"epochs": 2, "batch_size": 8, "checkpoint": {"keep_last": 0}},
        "rl": {"env": "CartPole-v1", "steps_per_epoch": 40, "train_frequency": 4, "learning_starts": 10,
               "buffer_size": 50, "target_update": 5, "eval_episodes": 1, "test_episodes": 1,
               "max_episode_steps": 20}}


def test_without_replay_the_buffer_holds_one_batch_and_without_target_it_syncs_every_update():
    base = resolve(base_config(False))
    v = variants(base)
    assert v[(REPLAY, TARGET)] == {}
    assert v[(ONLINE, TARGET)] == {"rl.buffer_size": base.train.batch_size}
    assert v[(REPLAY, NO_TARGET)] == {"rl.target_update": 1}
    assert v[(ONLINE, NO_TARGET)] == {"rl.buffer_size": base.train.batch_size, "rl.target_update": 1}
    assert base_config(True)["train"]["epochs"] > base_config(False)["train"]["epochs"]


@pytest.mark.slow  # four tiny runs (about 3 s of CPU)
def test_study_runs_every_setting_and_reports_curves(tmp_path, monkeypatch):
    import nnlab.experiments.studies.replay as mod

    monkeypatch.setattr(mod, "base_config", lambda full: TINY)
    report = study(StudyContext(tmp_path, repeats=1, log=lambda s: None))
    (table,) = report.tables
    assert [(r[0], r[1]) for r in table.rows] == [(REPLAY, TARGET), (REPLAY, NO_TARGET), (ONLINE, TARGET),
                                                  (ONLINE, NO_TARGET)]
    runs = sorted((tmp_path / "runs" / "rl").iterdir())
    assert len(runs) == 4
    steps, returns, final = curve(runs[0])
    assert steps == [50.0, 90.0] and len(returns) == 2 and 0 < final <= 20 and not math.isnan(final)
    saved = {r.name: resolve(RunDir(r).config).rl for r in runs}
    assert {n: (c.buffer_size, c.target_update) for n, c in saved.items()} == {
        "noreplay_notarget_s1-1": (8, 1), "noreplay_target_s1-1": (8, 5), "replay_notarget_s1-1": (50, 1),
        "replay_target_s1-1": (50, 5)}
    assert report.figures[0].is_file() and "inconclusive" in report.verdict  # one seed a side decides nothing
