"""YOLO: target assignment, anchors from the builder, losses' behaviour, and overfitting one batch."""
import pytest
import torch

from nnlab.errors import ConfigError
from nnlab.models.detection import DETECTORS
from nnlab.models.detection.yolo_loss import assign

from .conftest import digit_scenes, mean_ap

ANCHORS = torch.tensor([[[8.0, 8.0], [6.0, 14.0]], [[20.0, 20.0], [40.0, 16.0]]])  # (L=2, A=2, 2)


def test_assignment_puts_each_box_in_its_cell_and_best_anchor():
    targets = [{"boxes": torch.tensor([[17.0, 3.0, 25.0, 11.0],    # 8x8 centred (21, 7): level 0 anchor 0
                                       [30.0, 40.0, 36.0, 54.0],   # 6x14 centred (33, 47): level 0 anchor 1
                                       [0.0, 20.0, 40.0, 36.0]]),  # 40x16 centred (20, 28): level 1 anchor 1
                "labels": torch.tensor([2, 0, 1])},
               {"boxes": torch.tensor([[40.0, 40.0, 61.0, 61.0]]), "labels": torch.tensor([1])}]
    a = assign(targets, ANCHORS, [8, 16], [(8, 8), (4, 4)])
    assert a.image.tolist() == [0, 0, 0, 1]
    assert a.level.tolist() == [0, 0, 1, 1] and a.anchor.tolist() == [0, 1, 1, 0]
    assert a.gx.tolist() == [21 // 8, 33 // 8, 20 // 16, int(50.5 // 16)]
    assert a.gy.tolist() == [7 // 8, 47 // 8, 28 // 16, int(50.5 // 16)]
    torch.testing.assert_close(a.t[0], torch.tensor([21 / 8 - 2, 7 / 8 - 0, 0.0, 0.0]))
    torch.testing.assert_close(a.t[2, 2:], torch.zeros(2))
    assert a.label.tolist() == [2, 0, 1, 1]


def test_assignment_clamps_a_centre_on_the_far_edge_into_the_grid():
    a = assign([{"boxes": torch.tensor([[56.0, 56.0, 64.0, 64.0]]), "labels": torch.tensor([0])}],
               ANCHORS, [8, 16], [(8, 8), (4, 4)])
    assert (a.gx.item(), a.gy.item()) == (7, 7)


def test_assignment_of_images_without_boxes_is_empty():
    empty = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}
    assert len(assign([empty, empty], ANCHORS, [8, 16], [(8, 8), (4, 4)]).image) == 0


def test_builder_takes_kmeans_anchors_from_training_boxes():
    _, targets = digit_scenes(n=8, per_image=2, seed=1)
    boxes = torch.cat([t["boxes"] for t in targets])
    boxes[::2, 2] += 8  # two shapes: 16x16 and 24x16
    m = DETECTORS.build("yolo", classes=3, in_chans=1, input_size=(64, 64), width=4, levels=2,
                        anchors_per_cell=2, train_boxes=boxes)
    got = m.head.anchors.reshape(-1, 2)
    assert m.head.anchors.shape == (2, 2, 2)
    assert {tuple(a) for a in got.round().tolist()} == {(16.0, 16.0), (24.0, 16.0)}
    assert "head.anchors" in m.state_dict()  # a checkpoint carries the anchors


def test_given_anchors_that_do_not_fit_are_refused():
    with pytest.raises(ConfigError, match="does not fit the 64x64 input"):
        DETECTORS.build("yolo", classes=3, in_chans=1, input_size=(64, 64), width=4, levels=1, neck="none",
                        anchors_per_cell=2, anchors=[[10, 10], [100, 30]])
    with pytest.raises(ConfigError, match="needs 2 \\[w, h\\] pairs"):
        DETECTORS.build("yolo", classes=3, in_chans=1, input_size=(64, 64), width=4, levels=1, neck="none",
                        anchors_per_cell=2, anchors=[[10, 10]])


def test_v1_needs_one_grid():
    with pytest.raises(ConfigError, match="levels: 1"):
        DETECTORS.build("yolo", classes=3, in_chans=1, input_size=(64, 64), width=4, anchors="none", levels=2)


def test_v1_head_predicts_b_boxes_and_k_classes_per_cell():
    m = DETECTORS.build("yolo", classes=3, in_chans=1, input_size=(64, 64), width=4, anchors="none",
                        boxes_per_cell=2)
    raw = m.head.raw(m.neck(m.backbone(torch.zeros(1, 1, 64, 64))))
    assert raw[0].shape == (1, 2, 2, 2 * 5 + 3)  # S=2 at stride 32: [S, S, B * 5 + K]


def _overfit(model, x, targets, steps, lr=3e-3):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    ap = 0.0
    for step in range(steps):
        model.train()
        loss = sum(model(x, targets).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 9:
            model.eval()
            with torch.no_grad():
                ap = mean_ap(model(x), targets, 3)
            if ap == 1.0:
                break
    return ap, step + 1


@pytest.mark.slow  # about 1 s each: 40 steps
@pytest.mark.parametrize("options", [{}, {"neck": "pan", "merge": "concat"}, {"anchors": "none"}],
                         ids=["anchors", "anchors-pan-concat", "v1"])
def test_yolo_overfits_one_batch_of_digit_scenes(options):
    """The check users ask for when mAP stays at 0: 4 scenes, mAP@0.5 = 1.0 within 150 steps (~40 needed)."""
    torch.manual_seed(0)
    x, targets = digit_scenes(n=4, side=64)
    model = DETECTORS.build("yolo", classes=3, in_chans=1, input_size=(64, 64), width=8, neck_width=32, **options)
    ap, steps = _overfit(model, x, targets, 150)
    assert ap == 1.0, f"mAP@0.5 {ap:.3f} after {steps} steps"


def test_eval_of_images_without_detections_is_well_formed():
    m = DETECTORS.build("yolo", classes=3, in_chans=1, input_size=(64, 64), width=4, score_thresh=0.99).eval()
    with torch.no_grad():
        out = m(torch.zeros(3, 1, 64, 64))
    assert len(out) == 3
    for d in out:
        assert d["boxes"].shape == (0, 4) and d["scores"].shape == (0,) and d["labels"].dtype == torch.int64
