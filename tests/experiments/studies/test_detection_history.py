import pytest

from nnlab.config import from_dict
from nnlab.experiments.studies import STUDIES
from nnlab.experiments.studies.detection_history import (
    DETECTORS, Result, compare, conv_is_faster, learned_beats_hog, overall, study_config, verdict_text,
)


def _results(hog: float, learned: float, slide_ms: float = 100.0, conv_ms: float = 10.0,
             conv_map: float | None = None) -> dict:
    r = {("scenes", "hog_svm"): Result(hog, hog / 2, 1.0, 5.0),
         ("scenes", "cls_loc"): Result(learned, learned / 2, 1.0, 1.0),
         ("scenes", "sliding_window"): Result(0.3, 0.1, 1.0, slide_ms),
         ("scenes", "convolutional"): Result(0.3 if conv_map is None else conv_map, 0.1, 1.0, conv_ms)}
    return r


def test_registered_with_a_config_per_detector_and_dataset():
    assert "detection-history" in STUDIES.names()
    for dataset in ("scenes", "raccoon"):
        for det in DETECTORS:
            cfg = from_dict(study_config(dataset, det, full=False))  # every config is valid as it stands
            assert cfg.task == "detect" and cfg.model.name == det and cfg.data.dataset == dataset
    assert from_dict(study_config("scenes", "cls_loc", False)).detect.scenes.digits == [1, 1]


@pytest.mark.parametrize("a, b, expected", [(0.5, 0.3, "supported"), (0.3, 0.5, "not supported"),
                                            (0.41, 0.40, "inconclusive"), (0.4, 0.4, "inconclusive"),
                                            (None, 0.4, "inconclusive")])
def test_compare_needs_a_margin_and_a_tie_is_not_supported(a, b, expected):
    assert compare(a, b) == expected


def test_learned_features_beat_hog_verdict():
    assert learned_beats_hog(_results(hog=0.2, learned=0.6), "scenes") == "supported"
    assert learned_beats_hog(_results(hog=0.6, learned=0.2), "scenes") == "not supported"  # best learned is 0.3
    assert learned_beats_hog(_results(hog=0.305, learned=0.2), "scenes") == "inconclusive"  # tie with 0.3
    assert learned_beats_hog(_results(hog=0.2, learned=0.6), "raccoon") == "inconclusive"  # not measured


def test_convolutional_speedup_verdict():
    assert conv_is_faster(_results(0.1, 0.5, slide_ms=100, conv_ms=10), "scenes") == "supported"
    assert conv_is_faster(_results(0.1, 0.5, slide_ms=100, conv_ms=150), "scenes") == "not supported"
    assert conv_is_faster(_results(0.1, 0.5, slide_ms=100, conv_ms=70), "scenes") == "inconclusive"  # 1.4x
    assert conv_is_faster(_results(0.1, 0.5, conv_map=0.1), "scenes") == "not supported"  # a different answer


def test_overall_needs_every_dataset_to_agree_and_the_text_says_so():
    assert overall(["supported", "supported"]) == "supported"
    assert overall(["supported", "not supported"]) == overall([]) == "inconclusive"
    text = verdict_text(_results(hog=0.2, learned=0.6), ["scenes"])
    assert text.startswith("Learned features beat HOG: supported; the convolutional form gives the sliding-window "
                           "answer much faster (>= 2x, mAP@0.5 within 0.02): supported.")
    assert "cls_loc" in text and "10.0x" in text
