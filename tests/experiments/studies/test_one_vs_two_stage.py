from nnlab.config import from_dict
from nnlab.experiments.studies import STUDIES
from nnlab.experiments.studies.detection_runs import Measured
from nnlab.experiments.studies.one_vs_two_stage import ONE_STAGE, TWO_STAGE, detector_config, verdict_text, verdicts


def _m(map50: float, eval_ips: float) -> Measured:
    return Measured(map50, map50 / 2, 0.1, 0.2, float("nan"), 1000, 50.0, eval_ips, 60.0)


def _results(one_map: float, two_map: float, one_ips: float, two_ips: float) -> dict:
    return {**{d: _m(one_map, one_ips) for d in ONE_STAGE}, **{d: _m(two_map, two_ips) for d in TWO_STAGE}}


def test_registered_and_every_config_is_valid():
    assert "one-vs-two-stage" in STUDIES.names()
    for full in (False, True):
        for d in (*ONE_STAGE, *TWO_STAGE):
            cfg = from_dict(detector_config(d, full))
            assert cfg.model.name == d and cfg.data.dataset == "scenes"
    assert from_dict(detector_config("yolo", True)).detect.scenes.n == 2000  # the 2,000 / 500 scenes


def test_verdicts_speed_ratio_and_accuracy_margin():
    assert verdicts(_results(0.80, 0.90, 400, 100)) == ("supported", "supported")
    assert verdicts(_results(0.90, 0.80, 100, 400)) == ("not supported", "not supported")
    assert verdicts(_results(0.80, 0.81, 150, 100)) == ("inconclusive", "inconclusive")  # 1.5x, a 0.01 tie
    assert verdicts({"yolo": _m(0.8, 100)}) == ("inconclusive", "inconclusive")  # no two-stage side


def test_verdict_text_names_the_best_of_each_side():
    results = _results(0.80, 0.90, 400, 100)
    results["ssd"] = _m(0.85, 400)
    text = verdict_text(results)
    assert text.startswith("One-stage is faster, two-stage more accurate: supported")
    assert "4.0x" in text and "(ssd, 0.850)" in text and "mAP@0.5 0.900" in text
