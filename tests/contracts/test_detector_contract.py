"""Every registered detector: declared fit mode, trains the way it declares, eval output in the conventions' form
(also for images with nothing to find), state-dict round trip."""
import pytest
import torch

from nnlab.models.detection import DETECTORS
from nnlab.models.detection.classic.base import FIT_MODES, ClassicDetector
from tests.models.detection.classic.conftest import assert_well_formed, make_scenes

SMALL = {  # tiny options per detector (48x48 grey scenes, 16x16 digits); a new detector fails until it is listed
    "cls_loc": {"classes": 2, "in_chans": 1, "input_size": (48, 48), "backbone": "lenet5"},
    "sliding_window": {"classes": 2, "in_chans": 1, "patch": (16, 16), "classifier": "mlp", "epochs": 1},
    "convolutional": {"classes": 2, "in_chans": 1, "patch": (16, 16), "classifier": "mlp", "epochs": 1},
    "hog_svm": {"classes": 2, "window": (16, 16), "cell": 4, "mining_rounds": 1},
    "hog_people": {"classes": 1},
    "haar": {"classes": 1},
    "rcnn": {"classes": 2, "in_chans": 1, "proposals": 10, "ss_size": 48, "epochs": 1},
}


def test_every_detector_is_listed():
    """Each registered detector is a classic one listed here or a learned ``Detector`` (the other contract)."""
    from nnlab.models.detection.detector import Detector
    from nnlab.models.detection.peers import TorchvisionDetector

    for name in DETECTORS.names():
        if name not in SMALL:  # default input size
            assert isinstance(DETECTORS.build(name, classes=2, in_chans=1), (Detector, TorchvisionDetector)), name


@pytest.mark.parametrize("name", sorted(SMALL))
def test_detector_contract(name):
    torch.manual_seed(0)
    options = SMALL[name]
    det = DETECTORS.build(name, **options)
    assert isinstance(det, ClassicDetector) and det.fit_mode in FIT_MODES and det.classes == options["classes"]
    images, targets = make_scenes(4, size=48)
    if det.fit_mode == "fit":
        stats = det.fit(images, targets)
        assert all(isinstance(v, float) for v in stats.values())
    elif det.fit_mode == "loss":
        losses = det.train()(images, targets)
        sum(losses.values()).backward()
        assert all(torch.isfinite(v) for v in losses.values())
    for batch in (images[:2], torch.zeros(2, 1, 48, 48, dtype=torch.uint8), images[:2].float() / 255):
        out = det.predict(batch)
        assert len(out) == 2
        for r in out:
            assert_well_formed(r, det.classes)
    twin = DETECTORS.build(name, **options)
    twin.load_state_dict(det.state_dict())
    for a, b in zip(twin.predict(images[:2]), det.predict(images[:2])):
        torch.testing.assert_close(a, b)
