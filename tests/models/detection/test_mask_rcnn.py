"""Mask R-CNN: the mask loss joins Faster R-CNN's, eval masks are pasted into the image for the selected boxes,
and the whole model overfits one image (boxes and masks)."""
import pytest
import torch

from nnlab.models.detection import DETECTORS

OPTIONS = {"classes": 2, "in_chans": 1, "input_size": (64, 64), "width": 8, "neck_width": 16, "fc_width": 32,
           "mask_width": 8, "anchor_scale": 2, "score_thresh": 0.0}


def _scene():
    """One 64x64 image: a bright rectangle (class 0) and a dark-ringed disc (class 1), with their masks."""
    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    rect = (yy >= 8) & (yy < 28) & (xx >= 6) & (xx < 30)
    disc = (yy - 44) ** 2 + (xx - 42) ** 2 <= 12 ** 2
    x = torch.where(rect, 1.0, torch.where(disc, -1.0, 0.0))[None, None]  # (1, 1, 64, 64)
    target = {"boxes": torch.tensor([[6.0, 8.0, 30.0, 28.0], [30.0, 32.0, 55.0, 57.0]]), "labels": torch.tensor([0, 1]),
              "masks": torch.stack([rect, disc]).to(torch.uint8)}
    return x, [target]


def test_mask_loss_and_masks_for_the_selected_boxes():
    torch.manual_seed(0)
    m = DETECTORS.build("mask_rcnn", **OPTIONS)
    x, targets = _scene()
    losses = m.train()(x, targets)
    assert set(losses) == {"loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg", "loss_mask"}
    with torch.no_grad():
        (out,) = m.eval()(x)
    assert out["masks"].shape == (len(out["boxes"]), 64, 64) and len(out["boxes"]) <= m.max_detections
    far = torch.ones(len(out["boxes"]), 64, 64, dtype=torch.bool)  # pasted masks stay near their box
    for f, (x1, y1, x2, y2) in zip(far, out["boxes"].tolist()):
        f[max(int(y1) - 2, 0):int(y2) + 3, max(int(x1) - 2, 0):int(x2) + 3] = False
    assert (out["masks"][far] < 1e-3).all()


@pytest.mark.slow  # ~4 s: 60 steps
def test_overfits_one_image():
    torch.manual_seed(0)
    m = DETECTORS.build("mask_rcnn", **OPTIONS)
    x, targets = _scene()
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    m.train()
    for _ in range(60):
        loss = sum(m(x, targets).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        (out,) = m.eval()(x)
    for k in range(2):  # the best detection of each class covers its object's mask
        best = out["scores"].masked_fill(out["labels"] != k, -1).argmax()
        pred, truth = out["masks"][best] > 0.5, targets[0]["masks"][k].bool()
        assert out["labels"][best] == k and (pred & truth).sum() / (pred | truth).sum() > 0.7
