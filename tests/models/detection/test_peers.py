"""torchvision's own detectors behind nnlab's interface: the label shift both ways, and torchvision's complete
models (transform, matching, losses) agree with nnlab's assembly of the same parts given the same weights."""
import pytest
import torch
from torch import nn

from nnlab.errors import UserError
from nnlab.models.detection import DETECTORS
from nnlab.models.detection.peers import TorchvisionDetector

TARGETS = [{"boxes": torch.tensor([[10.0, 12.0, 40.0, 50.0], [60.0, 60.0, 100.0, 90.0]]),
            "labels": torch.tensor([0, 2])},
           {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}]  # a negative image


class Recorder(nn.Module):
    """Stands in for a torchvision model: records what it gets, answers with labels 1..K."""

    def forward(self, images, targets=None):
        self.images, self.targets = images, targets
        if targets is not None:
            return {"loss": torch.tensor(1.0)}
        return [{"boxes": torch.tensor([[1.0, 2.0, 3.0, 4.0]]), "scores": torch.tensor([0.9]),
                 "labels": torch.tensor([1])}, {"boxes": torch.tensor([[5.0, 6.0, 7.0, 8.0]]),
                                                "scores": torch.tensor([0.8]), "labels": torch.tensor([3])}]


def _adapter(background: bool = True):
    return TorchvisionDetector(Recorder(), num_classes=3, in_chans=1, input_size=(16, 16), score_thresh=0.05,
                               max_detections=100, background=background)


def test_labels_gain_a_background_class_going_in_and_lose_it_coming_out():
    det = _adapter().train()
    det(torch.zeros(2, 1, 16, 16), TARGETS)
    got = det.model.targets
    assert got[0]["labels"].tolist() == [1, 3] and got[1]["labels"].tolist() == []  # 0 = torchvision's background
    assert TARGETS[0]["labels"].tolist() == [0, 2]  # the caller's targets are not changed
    assert len(det.model.images) == 2 and det.model.images[0].shape == (1, 16, 16)  # a list of (C, H, W)
    out = det.eval()(torch.zeros(2, 1, 16, 16))
    assert [o["labels"].tolist() for o in out] == [[0], [2]]
    assert out[0]["boxes"].dtype == torch.float32 and out[1]["labels"].dtype == torch.int64


def test_retinanet_labels_pass_unchanged():
    det = _adapter(background=False).train()  # sigmoid classes: no background column to make room for
    det(torch.zeros(2, 1, 16, 16), TARGETS)
    assert det.model.targets[0]["labels"].tolist() == [0, 2]
    assert [o["labels"].tolist() for o in det.eval()(torch.zeros(2, 1, 16, 16))] == [[1], [3]]
    assert DETECTORS.build("tv_retinanet", classes=3, in_chans=1, width=4).shift == 0
    assert DETECTORS.build("tv_ssd", classes=3, in_chans=1, width=4).shift == 1


def test_adapter_refuses_labels_outside_the_classes_and_wrong_channels():
    det = _adapter().train()
    with pytest.raises(UserError, match="outside 0..2"):
        det(torch.zeros(1, 1, 16, 16), [{"boxes": torch.zeros(1, 4), "labels": torch.tensor([3])}])
    with pytest.raises(UserError, match=r"\(B, 1, H, W\)"):
        det(torch.zeros(1, 3, 16, 16), TARGETS[:1])


def _same_weights(ours: nn.Module, peer: nn.Module) -> None:
    """Copy ``ours`` into ``peer``: both register the same parameters and buffers in the same order."""
    a, b = ours.state_dict(), peer.state_dict()
    assert [v.shape for v in a.values()] == [v.shape for v in b.values()]
    peer.load_state_dict(dict(zip(b, a.values())))


@pytest.mark.parametrize("ours, peer", [("ssd", "tv_ssd"), ("retinanet", "tv_retinanet"),
                                        ("faster_rcnn", "tv_faster_rcnn")])
def test_torchvision_model_equals_nnlab_assembly_with_the_same_weights(ours, peer):
    options = {"classes": 3, "in_chans": 1, "input_size": (64, 64), "width": 4, "neck_width": 16,
               "score_thresh": 0.001}  # RetinaNet starts its scores near 0.01
    if ours != "ssd":
        options["anchor_scale"] = 2.0  # anchors that fit 64 px
    if ours == "faster_rcnn":
        options.update(fc_width=32, rpn_post_nms=60)
    torch.manual_seed(0)
    a, b = DETECTORS.build(ours, **options), DETECTORS.build(peer, **options)
    _same_weights(a, b)
    x = torch.randn(2, 1, 64, 64)
    targets = [{"boxes": t["boxes"] / 2, "labels": t["labels"]} for t in TARGETS]
    torch.manual_seed(1)  # the RPN and RoI heads sample anchors / proposals
    la = a.train()(x, targets)
    torch.manual_seed(1)
    lb = b.train()(x, targets)
    assert set(la) == set(lb)
    for k in la:
        torch.testing.assert_close(la[k], lb[k])
    with torch.no_grad():
        da, db = a.eval()(x), b.eval()(x)
    for p, q in zip(da, db):  # post-processing differs in candidate counts, not in the best detection
        assert len(p["scores"]) and len(q["scores"])
        best_a, best_b = p["scores"].argmax(), q["scores"].argmax()
        torch.testing.assert_close(p["scores"][best_a], q["scores"][best_b])
        torch.testing.assert_close(p["boxes"][best_a], q["boxes"][best_b])
        assert p["labels"][best_a] == q["labels"][best_b]
