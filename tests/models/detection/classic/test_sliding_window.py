import pytest
import torch
from torch import nn

from nnlab.errors import ConfigError, UserError
from nnlab.models import MODELS
from nnlab.models.detection import DETECTORS
from nnlab.models.detection.classic.sliding_window import SlidingWindow, heatmaps_png
from tests.models.detection.classic.conftest import assert_well_formed


def lenet(outputs=3, side=16):
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * ((side - 4) // 2) ** 2, outputs)).eval()


def test_heatmaps_are_the_classifier_on_each_window():
    net = lenet()
    det = SlidingWindow(net, (16, 16), 2, scales=(1.0, 2.0), stride=4)
    image = torch.rand(1, 40, 52)
    levels = det.heatmaps(image)
    assert [s for s, _ in levels] == [1.0, 2.0]
    maps = levels[0][1]
    assert maps.shape == (2, (40 - 16) // 4 + 1, (52 - 16) // 4 + 1)
    with torch.no_grad():
        probs = net(image[None, :, 8:24, 12:28]).softmax(1)[0]  # window at row 2, column 3
    torch.testing.assert_close(maps[:, 2, 3], probs[:2])
    assert levels[1][1].shape == (2, 2, (26 - 16) // 4 + 1)  # the image shrunk to 20x26
    assert det.windows(40, 52) == maps[0].numel() + levels[1][1][0].numel()


def test_background_index_and_box_geometry():
    net = lenet()
    det = SlidingWindow(net, (16, 16), 2, background=0, stride=8, score_threshold=0.0, iou_threshold=1.0)
    levels = [(2.0, torch.zeros(2, 2, 3))]
    levels[0][1][1, 1, 2] = 0.9
    out = det.boxes(levels, 40, 60)
    torch.testing.assert_close(out["boxes"][0], torch.tensor([32.0, 16.0, 64.0, 48.0]))
    assert int(out["labels"][0]) == 1 and float(out["scores"][0]) == pytest.approx(0.9)
    assert len(out["boxes"]) == 12  # threshold 0 keeps every window of both classes, NMS at IoU 1 keeps all


def test_predict_output_form_and_empty_images(scenes):
    images, _ = scenes(2, size=32)
    det = SlidingWindow(lenet(), (16, 16), 2, stride=4, score_threshold=0.0)
    for r in det.predict(images):
        assert_well_formed(r, 2)
        assert len(r["boxes"]) > 0
    det.score_threshold = 1.01
    assert all(len(r["boxes"]) == 0 for r in det.predict(images))
    for r in det.predict(images):
        assert_well_formed(r, 2)


def test_fit_learns_digits_and_finds_them(scenes):
    torch.manual_seed(0)
    images, targets = scenes(24, size=32, digits=(0, 1), scale=2)
    det = DETECTORS.build("sliding_window", classes=2, in_chans=1, patch=(16, 16), classifier="mlp", stride=2,
                          epochs=30, lr=3e-3, score_threshold=0.6)
    stats = det.fit(images, targets)
    assert stats["loss"] < 0.3
    out = det.predict(images[:4])
    from torchvision.ops import box_iou
    hits = [bool((box_iou(o["boxes"], t["boxes"]) >= 0.5).any()) for o, t in zip(out, targets[:4])]
    assert sum(hits) >= 3


def test_heatmap_png(tmp_path):
    det = SlidingWindow(lenet(), (16, 16), 2)
    image = torch.rand(1, 24, 24)
    path = heatmaps_png(det.heatmaps(image), tmp_path / "h.png", ["zero", "one"], image)
    assert path.stat().st_size > 1000


def test_bad_input():
    det = SlidingWindow(lenet(), (16, 16), 2, scales=(1.0, 2.0))
    with pytest.raises(UserError, match="16x16 window is larger than the 12x30 image"):
        det.predict(torch.rand(1, 1, 12, 30))
    with pytest.raises(UserError, match="needs 4"):
        SlidingWindow(lenet(), (16, 16), 3).predict(torch.rand(1, 1, 16, 16))
    with pytest.raises(ConfigError, match="stride"):
        SlidingWindow(lenet(), (16, 16), 2, stride=0)
    with pytest.raises(UserError, match="unknown model"):
        DETECTORS.build("sliding_window", classes=2, classifier="lenet")
    assert "lenet5" in MODELS
