"""Every learned ``Detector(backbone, neck, head)``: train mode gives finite named losses whose backward reaches
every trainable parameter; eval mode gives the conventions' per-image dicts; the state dict round-trips.
(The classic detectors have their own contract, tests/contracts/test_detector_contract.py.)"""
import pytest
import torch

from nnlab.models.detection import DETECTORS
from tests.contracts.test_detector_contract import SMALL as CLASSIC

HEAVY = {"tv_fasterrcnn_mobilenet", "tv_ssdlite"}  # torchvision's MobileNetV3 builds: seconds per step
LEARNED = [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n for n in DETECTORS.names()
           if n not in CLASSIC]

TARGETS = [{"boxes": torch.tensor([[10.0, 12.0, 40.0, 50.0], [60.0, 60.0, 100.0, 90.0]]),
            "labels": torch.tensor([0, 2])},
           {"boxes": torch.tensor([[30.0, 20.0, 90.0, 70.0]]), "labels": torch.tensor([1])}]
for _t in TARGETS:  # instance masks (the box minus its top rows): every detector takes them, Mask R-CNN learns them
    _t["masks"] = torch.zeros(len(_t["boxes"]), 128, 128, dtype=torch.uint8)
    for _m, (x1, y1, x2, y2) in zip(_t["masks"], _t["boxes"].int().tolist()):
        _m[y1 + 4:y2, x1:x2] = 1


def _build(name):
    torch.manual_seed(0)
    options = DETECTORS.options(name)
    tiny = {k: 8 for k in ("width", "mask_width") if k in options}  # the tiny backbone (and mask head) at width 8
    return DETECTORS.build(name, classes=3, in_chans=1, **tiny)  # default input_size 128 x 128


@pytest.mark.parametrize("name", LEARNED)
def test_detector_contract(name):
    model = _build(name).train()
    x = torch.randn(2, 1, *model.input_size)
    losses = model(x, TARGETS)
    assert isinstance(losses, dict) and losses
    assert all(v.ndim == 0 and torch.isfinite(v) for v in losses.values()), losses
    sum(losses.values()).backward()
    missing = [n for n, p in model.named_parameters()
               if p.requires_grad and (p.grad is None or not torch.isfinite(p.grad).all())]
    assert not missing, f"no gradient reaches {missing[:5]}"
    model.eval()
    with torch.no_grad():
        out = model(x)
    assert len(out) == 2
    for d in out:
        assert set(d) == {"boxes", "scores", "labels"} | ({"masks"} if name == "mask_rcnn" else set())
        m = len(d["scores"])
        if "masks" in d:
            assert d["masks"].shape == (m, *x.shape[-2:]) and 0 <= d["masks"].min() <= d["masks"].max() <= 1
        assert d["boxes"].shape == (m, 4) and d["boxes"].dtype == torch.float32
        assert d["labels"].dtype == torch.int64 and m <= model.max_detections
        assert ((d["labels"] >= 0) & (d["labels"] < 3)).all()
        assert (d["scores"] > model.score_thresh).all()
    clone = _build(name)
    clone.load_state_dict(model.state_dict())
    clone.eval()
    with torch.no_grad():
        again = clone(x)
    for a, b in zip(out, again):
        torch.testing.assert_close(a, b)
