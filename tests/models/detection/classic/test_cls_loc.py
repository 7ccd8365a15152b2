import pytest
import torch

from nnlab.errors import ConfigError, UserError
from nnlab.models.detection import DETECTORS
from nnlab.models.detection.classic.cls_loc import ClsLoc
from tests.models.detection.classic.conftest import assert_well_formed


def build(box_loss="smooth_l1", **kw):
    torch.manual_seed(0)
    return DETECTORS.build("cls_loc", classes=2, in_chans=1, input_size=(32, 32), backbone="lenet5",
                           box_loss=box_loss, **kw)


@pytest.mark.parametrize("box_loss", ["smooth_l1", "giou"])
def test_train_mode_returns_losses_that_reach_every_parameter(scenes, box_loss):
    images, targets = scenes(4, size=32)
    model = build(box_loss).train()
    losses = model(images, targets)
    assert set(losses) == {"loss_cls", "loss_box"} and all(v.ndim == 0 for v in losses.values())
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_eval_gives_one_box_per_image_inside_the_image(scenes):
    images, targets = scenes(3, size=32)
    out = build().predict(images)
    assert len(out) == 3
    for r in out:
        assert_well_formed(r, 2)
        assert len(r["boxes"]) == 1 and (r["boxes"] >= 0).all() and (r["boxes"] <= 32).all()
    assert ClsLoc.iou(out, targets).shape == (3,)


def test_score_threshold_gives_empty_well_formed_results(scenes):
    images, _ = scenes(2, size=32)
    for r in build(score_threshold=1.01).predict(images):
        assert_well_formed(r, 2)
        assert len(r["boxes"]) == 0


def test_negative_images_add_no_loss(scenes):
    images, targets = scenes(2, size=32)
    empty = [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}] * 2
    losses = build().train()(images, empty)
    assert losses["loss_cls"].item() == 0.0 and losses["loss_box"].item() == 0.0
    assert build().train()(images, [targets[0], empty[0]])["loss_box"] > 0


def test_overfits_eight_images(scenes):
    images, targets = scenes(8, size=32, scale=2)
    model = build("giou").train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    before = float(ClsLoc.iou(model.predict(images), targets).mean())
    for _ in range(60):
        loss = sum(model(images, targets).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
    out = model.predict(images)
    iou = ClsLoc.iou(out, targets)
    assert float(iou.mean()) > 0.6 > before
    assert all(int(o["labels"][0]) == int(t["labels"][0]) for o, t in zip(out, targets))


def test_bad_input():
    with pytest.raises(ConfigError, match="box_loss"):
        build("l2")
    with pytest.raises(UserError, match=r"\(N, C, H, W\)"):
        build().predict(torch.zeros(1, 32, 32))
    with pytest.raises(UserError, match="outside 0..1"):
        build().train()(torch.zeros(1, 1, 32, 32), [{"boxes": torch.tensor([[1., 1, 5, 5]]),
                                                     "labels": torch.tensor([3])}])
