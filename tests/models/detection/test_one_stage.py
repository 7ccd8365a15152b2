"""RetinaNet's focal loss and SSD's hard negative mining, checked against torchvision and the papers' formulas."""
import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss

from nnlab.errors import ConfigError
from nnlab.models.detection import DETECTORS
from nnlab.models.detection.one_stage import match

TARGETS = [{"boxes": torch.tensor([[8.0, 8.0, 24.0, 24.0], [30.0, 34.0, 62.0, 58.0]]), "labels": torch.tensor([2, 0])},
           {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}]


def focal(logits, target, alpha=0.25, gamma=2.0):
    """Lin et al. 2017, eq. 5: FL(p_t) = -alpha_t (1 - p_t)^gamma log(p_t), summed."""
    p = logits.sigmoid()
    p_t = torch.where(target == 1, p, 1 - p)
    alpha_t = torch.where(target == 1, torch.full_like(p, alpha), torch.full_like(p, 1 - alpha))
    return (-alpha_t * (1 - p_t) ** gamma * p_t.log()).sum()


def test_retinanet_classification_loss_is_the_focal_loss():
    torch.manual_seed(0)
    m = DETECTORS.build("retinanet", classes=3, in_chans=1, input_size=(64, 64), width=4, neck_width=8,
                        anchor_scale=2).train()
    x = torch.randn(2, 1, 64, 64)
    losses = m(x, TARGETS)
    head = m.head
    out, anchor = head._run(m.neck(m.backbone(x)), (64, 64))
    anchors = [anchor] * len(TARGETS)  # every image has the same anchors
    matched = match(head.matcher, TARGETS, anchors)
    mine, theirs = [], []
    for logits, t, idx in zip(out["cls_logits"], TARGETS, matched):
        target = torch.zeros_like(logits)
        fg = idx >= 0
        target[fg, t["labels"][idx[fg]]] = 1
        valid = idx != -2  # between the thresholds: ignored
        n = max(1, int(fg.sum()))
        mine.append(focal(logits[valid], target[valid]) / n)
        theirs.append(sigmoid_focal_loss(logits[valid], target[valid], reduction="sum") / n)
    torch.testing.assert_close(losses["classification"], torch.stack(mine).mean())
    torch.testing.assert_close(losses["classification"], torch.stack(theirs).mean())
    assert int((matched[0] >= 0).sum()) > 0 and int((matched[1] >= 0).sum()) == 0


def test_ssd_mines_three_hardest_negatives_per_positive():
    torch.manual_seed(0)
    m = DETECTORS.build("ssd", classes=3, in_chans=1, input_size=(64, 64), width=4).train()
    x = torch.randn(2, 1, 64, 64)
    losses = m(x, TARGETS)
    out, anchor = m.head._run(m.neck(m.backbone(x)), (64, 64))
    anchors = [anchor] * len(TARGETS)
    matched = match(m.head.matcher, TARGETS, anchors)
    total, positives = 0.0, 0
    for logits, t, idx in zip(out["cls_logits"], TARGETS, matched):
        labels = torch.zeros(len(idx), dtype=torch.long)
        fg = idx >= 0
        labels[fg] = t["labels"][idx[fg]] + 1  # class 0 is the background
        ce = F.cross_entropy(logits, labels, reduction="none")
        hardest = ce[~fg].sort(descending=True).values[: 3 * int(fg.sum())]
        total = total + ce[fg].sum() + hardest.sum()
        positives += int(fg.sum())
    torch.testing.assert_close(losses["classification"], total / positives)


def test_ssd_rejects_impossible_scales():
    with pytest.raises(ConfigError, match="min_ratio"):
        DETECTORS.build("ssd", classes=3, in_chans=1, input_size=(64, 64), min_ratio=0.9, max_ratio=0.5)


def test_retinanet_anchors_larger_than_the_input_are_refused():
    with pytest.raises(ConfigError, match="retinanet anchor 128x128 .* does not fit the 64x64 input"):
        DETECTORS.build("retinanet", classes=3, in_chans=1, input_size=(64, 64), width=4)


def test_shared_heads_need_one_channel_count():
    with pytest.raises(ConfigError, match="one channel count"):
        DETECTORS.build("retinanet", classes=3, in_chans=1, input_size=(128, 128), width=4, neck="none")


@pytest.mark.parametrize("name", ["ssd", "retinanet"])
def test_box_coding_round_trip(name):
    m = DETECTORS.build(name, classes=3, in_chans=1, input_size=(128, 128), width=4)
    coder = m.head.box_coder if name == "ssd" else m.head.head.regression_head.box_coder
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(20, 2, generator=g) * 100
    anchors = torch.cat([xy, xy + 5 + torch.rand(20, 2, generator=g) * 40], 1)
    boxes = anchors + torch.randn(20, 4, generator=g) * 2
    torch.testing.assert_close(coder.decode_single(coder.encode_single(boxes, anchors), anchors), boxes,
                               rtol=1e-4, atol=1e-4)
