"""Two-stage detectors: proposals (given, sliding windows, RPN), label shift, bad input."""
import pytest
import torch

from nnlab.errors import UserError
from nnlab.models.detection import DETECTORS
from nnlab.models.detection.rcnn import window_proposals

TARGETS = [{"boxes": torch.tensor([[8.0, 8.0, 24.0, 24.0]]), "labels": torch.tensor([2])}]


def test_window_proposals_tile_the_image_with_half_overlap():
    boxes = window_proposals((64, 64), (0.25, 0.5), torch.device("cpu"))
    assert len(boxes) == 7 * 7 + 3 * 3  # 16 px windows every 8 px, 32 px windows every 16 px
    assert boxes.min() == 0 and boxes.max() == 64
    assert set(((boxes[:, 2:] - boxes[:, :2])[:, 0]).tolist()) == {16.0, 32.0}


@pytest.mark.parametrize("pool", ["spp", "roi_pool", "roi_align"])
def test_fast_rcnn_uses_the_given_proposals(pool):
    torch.manual_seed(0)
    m = DETECTORS.build("fast_rcnn", classes=3, in_chans=1, input_size=(64, 64), width=4, fc_width=16, pool=pool,
                        score_thresh=0.0)
    x = torch.randn(1, 1, 64, 64)
    losses = m.train()(x, TARGETS, proposals=[torch.tensor([[6.0, 6.0, 26.0, 22.0]])])
    assert set(losses) == {"loss_classifier", "loss_box_reg"}
    with torch.no_grad():
        out = m.eval()(x, proposals=[torch.tensor([[6.0, 6.0, 26.0, 22.0]])])[0]
    assert 1 <= len(out["boxes"]) <= 3  # one RoI -> at most one box per class
    assert ((out["labels"] >= 0) & (out["labels"] < 3)).all()  # 0-based again


def test_fast_rcnn_refuses_proposals_for_another_batch():
    m = DETECTORS.build("fast_rcnn", classes=3, in_chans=1, input_size=(64, 64), width=4, fc_width=16).eval()
    with pytest.raises(UserError, match="2 images but 1 proposal lists"):
        m(torch.zeros(2, 1, 64, 64), proposals=[torch.zeros(1, 4)])


def test_faster_rcnn_rpn_and_roi_losses_and_zero_based_labels():
    torch.manual_seed(0)
    m = DETECTORS.build("faster_rcnn", classes=3, in_chans=1, input_size=(64, 64), width=4, neck_width=8,
                        anchor_scale=2, fc_width=16, score_thresh=0.0)
    losses = m.train()(torch.randn(1, 1, 64, 64), TARGETS)
    assert set(losses) == {"loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg"}
    with torch.no_grad():
        out = m.eval()(torch.randn(1, 1, 64, 64))[0]
    assert len(out["labels"]) and ((out["labels"] >= 0) & (out["labels"] < 3)).all()
