import pytest

from nnlab.config import from_dict
from nnlab.experiments.studies import STUDIES
from nnlab.experiments.studies.detection_runs import Measured
from nnlab.experiments.studies.neck import NECKS, SCALES, neck_config, row, settings, verdict_text

MIXED, LARGE = "mixed digits (0.5-2x)", "large digits (1.2-2.4x)"


def _m(small: float, map50: float = 0.5, params: int = 100, overall: float | None = None) -> Measured:
    return Measured(map50, small if overall is None else overall, small, 0.3, float("nan"), params, 100.0, 300.0,
                    60.0)


def test_registered_and_every_config_is_valid():
    assert "neck" in STUDIES.names()
    for full in (False, True):
        for scale in SCALES:
            for neck in NECKS:
                cfg = from_dict(neck_config(neck, scale, 1, full))
                assert cfg.task == "detect" and cfg.model.name == "ssd" and cfg.seed == 1
                assert cfg.detect.scenes.scale == list(SCALES[scale])
    assert from_dict(neck_config("fpn concat", MIXED, 0, False)).model.args["merge"] == "concat"
    small, large = (from_dict(neck_config("pan", s, 0, True)).model.args for s in ("small digits (0.4-0.8x)", LARGE))
    assert small["max_ratio"] < large["max_ratio"] and small["min_ratio"] < large["min_ratio"]  # boxes fit digits
    steps = {full: s["n"] * s["epochs"] // s["batch_size"] for full in (False, True) for s in [settings(full)]}
    assert settings(True)["repeats"] >= 3 and steps[False] < steps[True]  # full trains longer


@pytest.mark.parametrize("fpn, none, outcome", [([0.50, 0.52, 0.51], [0.30, 0.31, 0.29], "supported"),
                                                ([0.30, 0.31, 0.29], [0.50, 0.52, 0.51], "not supported"),
                                                ([0.50, 0.40, 0.45], [0.46, 0.44, 0.47], "inconclusive"),
                                                ([0.9], [0.1], "inconclusive")])  # one seed decides nothing
def test_verdict_judges_the_best_neck_against_none_over_seeds(fpn, none, outcome):
    results = {(MIXED, "none"): [_m(v) for v in none], (MIXED, "fpn add"): [_m(v) for v in fpn],
               (MIXED, "fpn concat"): [_m(v - 0.1, params=110) for v in fpn], (MIXED, "pan"): [_m(0.0) for _ in fpn]}
    text = verdict_text(results, [MIXED])
    assert text.startswith(f"A neck raises mAP (small objects first): {outcome}")
    assert "fpn add" in text and "1.10x the parameters" in text


def test_large_digits_are_judged_on_all_objects():
    nan = float("nan")  # large digits: no small objects in the test set
    results = {(LARGE, n): [_m(nan, overall=v) for v in ([0.6, 0.61, 0.62] if n == "pan" else [0.4, 0.41, 0.42])]
               for n in NECKS}
    text = verdict_text(results, [LARGE])
    assert "supported" in text and "pan 0.610 vs none 0.410 mAP (supported)" in text


def test_a_size_without_test_objects_reads_as_a_dash_not_nan():
    nan = float("nan")  # small digits: no medium objects in the test set (COCO's -1)
    cells = row("small digits (0.4-0.8x)", "none", [Measured(0.5, 0.2, 0.2, nan, nan, 9, 1.0, 1.0, 1.0)] * 2)
    assert cells[2:6] == ["0.500 ± 0.000", "0.200 ± 0.000", "0.200 ± 0.000", "-"]
