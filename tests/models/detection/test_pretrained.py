"""``model.backbone_weights``: a classifier's (or torchvision's, or another detector's) weights land in a
detector's backbone, mismatches are refused by name, and a frozen pretrained backbone stays as loaded."""
import pytest
import torch

from nnlab.errors import ConfigError, UserError
from nnlab.models import MODELS, transfer
from nnlab.models.detection import DETECTORS
from nnlab.models.detection.pretrained import find_backbone, load_backbone_weights
from nnlab.optim import build_optimizer

LEARNED = ["ssd", "retinanet", "yolo", "detectnet", "fast_rcnn", "faster_rcnn", "mask_rcnn", "tv_ssd",
           "tv_retinanet", "tv_faster_rcnn"]


def _detector(name, **options):
    torch.manual_seed(0)
    known = DETECTORS.options(name)
    sizes = {k: 8 for k in ("width", "mask_width") if k in known}
    return DETECTORS.build(name, classes=2, in_chans=1, **{**sizes, **options})


def _saved(tmp_path, model, name="w.pt", wrap=False):
    path = tmp_path / name
    torch.save({"model": model.state_dict()} if wrap else model.state_dict(), path)
    return path


def _tiny_classifier(width=8, in_chans=1):
    torch.manual_seed(1)
    clf = MODELS.build("tiny", num_classes=2, in_chans=in_chans, input_size=(64, 64), width=width)
    for m in clf.modules():  # non-default BN statistics: the buffers must land too
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
    return clf


@pytest.mark.parametrize("name", LEARNED)
def test_a_tiny_classifier_lands_in_every_learned_detectors_backbone(tmp_path, name):
    clf = _tiny_classifier()
    det = _detector(name)
    got = load_backbone_weights(det, _saved(tmp_path, clf, wrap=True))
    path, backbone = find_backbone(det)
    own = backbone.state_dict()
    assert got["tensors"] == len(own) >= 36 and got["module"] == path  # a shallower tiny takes the first stages
    for k, v in own.items():
        assert torch.equal(v, clf.state_dict()[k]), k


def test_cls_loc_takes_the_classifier_but_keeps_its_own_head(tmp_path):
    clf = _tiny_classifier(width=16)  # cls_loc builds its zoo backbone at the default width
    det = DETECTORS.build("cls_loc", classes=1, in_chans=1, input_size=(64, 64), backbone="tiny")
    head = det.backbone.fc.weight.detach().clone()
    load_backbone_weights(det, _saved(tmp_path, clf))
    assert torch.equal(det.backbone.stages[4][1][0].weight, clf.stages[4][1][0].weight)
    assert torch.equal(det.backbone.fc.weight, head)  # 1 class here, 2 in the classifier: a fresh head


def test_a_zoo_classifier_loads(tmp_path):
    lenet = MODELS.build("lenet5", num_classes=10, in_chans=1, input_size=(28, 28))
    det = _detector("yolo", backbone="lenet5", levels=2, neck="none")
    load_backbone_weights(det, _saved(tmp_path, lenet))
    assert torch.equal(det.backbone.body.features[0].weight, lenet.features[0].weight)


@pytest.mark.slow
def test_a_torchvision_state_dict_loads(tmp_path):
    import torchvision

    tv = torchvision.models.resnet18(weights=None)
    det = DETECTORS.build("retinanet", classes=2, in_chans=3, backbone="resnet18",
                          backbone_options={"form": "imagenet"})
    assert load_backbone_weights(det, _saved(tmp_path, tv, "tv.pt"))["tensors"] == 120
    assert torch.equal(det.backbone.body.layer4[1].conv2.weight, tv.layer4[1].conv2.weight)


def test_another_detectors_backbone_loads(tmp_path):
    ssd = _detector("ssd")
    retina = _detector("retinanet")
    load_backbone_weights(retina, _saved(tmp_path, ssd))
    for k, v in retina.backbone.state_dict().items():
        assert torch.equal(v, ssd.backbone.state_dict()[k])


def test_weights_that_do_not_fit_are_refused_by_name(tmp_path):
    det = _detector("ssd")
    with pytest.raises(UserError, match=r"backbone_weights: the file .* into TinyBackbone: .*shape mismatch stages.0.0.0"):
        load_backbone_weights(det, _saved(tmp_path, _tiny_classifier(in_chans=3)))
    with pytest.raises(UserError, match="shape mismatch"):
        load_backbone_weights(det, _saved(tmp_path, _tiny_classifier(width=16)))
    lenet = MODELS.build("lenet5", num_classes=10, in_chans=1, input_size=(28, 28))
    with pytest.raises(UserError, match="missing stages"):
        load_backbone_weights(det, _saved(tmp_path, lenet))
    with pytest.raises(UserError, match="has no backbone"):
        load_backbone_weights(DETECTORS.build("hog_people", classes=1), _saved(tmp_path, lenet))


def test_options_are_checked_before_any_work(tmp_path):
    with pytest.raises(ConfigError, match="backbone_weights.*does not exist"):
        transfer.options({"backbone_weights": str(tmp_path / "none")})
    with pytest.raises(ConfigError, match="expected a file"):
        transfer.options({"backbone_weights": 3})
    path = str(_saved(tmp_path, _tiny_classifier()))
    assert transfer.options({"backbone_weights": path}).active
    assert "backbone_weights" not in transfer.builder_options({"backbone_weights": path, "width": 8})
    with pytest.raises(UserError, match="give one"):
        transfer.apply(_detector("ssd"), path, [], False, path)


def test_frozen_backbone_is_unchanged_after_a_step_and_lr_mult_groups_it(tmp_path):
    det = _detector("ssd").train()
    report = transfer.apply(det, None, ["backbone"], False, str(_saved(tmp_path, _tiny_classifier())))
    assert report.frozen == ["backbone"] and report.backbone["tensors"] == 60
    before = {k: v.clone() for k, v in det.state_dict().items()}
    opt = build_optimizer(det, "sgd", 0.1)
    x = torch.randn(2, 1, 128, 128)
    targets = [{"boxes": torch.tensor([[10.0, 10.0, 60.0, 70.0]]), "labels": torch.tensor([1])}] * 2
    sum(det(x, targets).values()).backward()
    opt.step()
    after = det.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items() if k.startswith("backbone."))  # BN stats too
    assert any(not torch.equal(after[k], v) for k, v in before.items() if k.startswith("head."))
    groups = build_optimizer(_detector("ssd"), "sgd", 0.1, lr_mult={"backbone": 0.1}).param_groups
    lrs = [g["lr"] for g in groups if g["names"][0].startswith("backbone.")]
    assert lrs and all(lr == pytest.approx(0.01) for lr in lrs)
    assert all(g["lr"] == 0.1 for g in groups if not g["names"][0].startswith("backbone."))
