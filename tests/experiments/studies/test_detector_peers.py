import pytest

from nnlab.config import from_dict
from nnlab.experiments.studies import STUDIES
from nnlab.experiments.studies.detection_runs import Measured
from nnlab.experiments.studies.detector_peers import PAIRS, detectors, pair_verdict, peer_config, verdict_text


def _m(map50: float, train_ips: float = 100.0, eval_ips: float = 300.0) -> Measured:
    return Measured(map50, map50 / 2, 0.1, 0.2, float("nan"), 1000, train_ips, eval_ips, 60.0)


def test_registered_and_every_config_is_valid():
    assert "torchvision-peers" in STUDIES.names()
    assert detectors()[0] == "yolo" and set(PAIRS.items()) <= set(zip(detectors()[1::2], detectors()[2::2]))
    for full in (False, True):
        for d in detectors():
            assert from_dict(peer_config(d, full)).model.name == d


@pytest.mark.parametrize("ours, theirs, expected", [
    (_m(0.90), _m(0.91), ("supported", "supported")),  # within the margin, same speed
    (_m(0.80), _m(0.90), ("not supported", "supported")),
    (_m(0.90, train_ips=80), _m(0.90), ("supported", "not supported")),  # 0.8x in training
    (_m(0.90, eval_ips=280), _m(0.90), ("supported", "supported")),  # 0.93x: within the allowance
])
def test_pair_verdict(ours, theirs, expected):
    assert pair_verdict(ours, theirs) == expected


def test_verdict_text_needs_every_pair():
    results = {d: _m(0.9) for pair in PAIRS.items() for d in pair}
    assert verdict_text(results).startswith("nnlab's assembly matches torchvision's accuracy (mAP@0.5 within 0.02) "
                                            "and is not slower (>= 0.9x): supported")
    results["tv_ssd"] = _m(0.99)
    text = verdict_text({**results, "yolo": _m(0.7)})
    assert ": not supported." in text.split(". ")[0] + "." and "ssd: mAP@0.5 0.900 vs 0.990 (not supported)" in text
    assert "YOLO head: mAP@0.5 0.700" in text
