"""Detector: selection (score threshold, per-class NMS, max detections), input checks, class-count check."""
import pytest
import torch

from nnlab.errors import ConfigError, UserError
from nnlab.models.detection import DETECTORS
from nnlab.models.detection.detector import check_classes, top_candidates

from .conftest import mean_ap


@pytest.fixture(scope="module")
def model():
    return DETECTORS.build("yolo", classes=3, in_chans=1, input_size=(64, 64), width=4, neck_width=8,
                           score_thresh=0.3, nms_thresh=0.5, max_detections=2)


def test_select_thresholds_then_suppresses_per_class_then_caps(model):
    c = {"boxes": torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [1, 1, 11, 11], [30, 30, 40, 40],
                                [50, 50, 60, 60]]),
         "scores": torch.tensor([0.9, 0.8, 0.7, 0.2, 0.6]), "labels": torch.tensor([0, 0, 1, 0, 2])}
    out = model.select(c, (64, 64))
    # box 1 overlaps box 0 of the same class: suppressed; box 2 is another class: kept; box 3 under 0.3
    assert out["scores"].tolist() == pytest.approx([0.9, 0.7])  # cap of 2: box 4 (0.6) dropped
    assert out["labels"].tolist() == [0, 1]


def test_select_clips_boxes_to_the_image(model):
    c = {"boxes": torch.tensor([[-5.0, -5, 70, 30]]), "scores": torch.tensor([0.9]), "labels": torch.tensor([1])}
    assert model.select(c, (64, 64))["boxes"].tolist() == [[0.0, 0.0, 64.0, 30.0]]


def test_top_candidates_flattens_box_class_pairs():
    boxes = torch.arange(12.0).view(3, 4)
    scores = torch.tensor([[0.1, 0.9], [0.5, 0.0], [0.3, 0.7]])
    c = top_candidates(boxes, scores, topk=3, min_score=0.2)
    assert c["scores"].tolist() == pytest.approx([0.9, 0.7, 0.5])
    assert c["labels"].tolist() == [1, 1, 0]
    assert torch.equal(c["boxes"], boxes[[0, 2, 1]])


def test_image_smaller_than_the_stride_is_a_user_error(model):
    with pytest.raises(UserError, match="smaller than the network's stride 32"):
        model.eval()(torch.zeros(1, 1, 16, 64))


def test_wrong_channel_count_is_a_user_error(model):
    with pytest.raises(UserError, match=r"\(B, 1, H, W\)"):
        model.eval()(torch.zeros(1, 3, 64, 64))


def test_label_outside_the_class_count_is_a_user_error(model):
    bad = [{"boxes": torch.tensor([[0.0, 0, 10, 10]]), "labels": torch.tensor([3])}]
    with pytest.raises(UserError, match="outside 0..2.*3 classes"):
        model.train()(torch.zeros(1, 1, 64, 64), bad)


def test_train_mode_without_targets_is_a_user_error(model):
    with pytest.raises(UserError, match="needs targets"):
        model.train()(torch.zeros(1, 1, 64, 64))


def test_class_count_mismatch_with_the_dataset_is_refused(model):
    check_classes(model, 3)
    with pytest.raises(ConfigError, match="predicts 3 classes but the dataset has 10"):
        check_classes(model, 10)


def test_bad_selection_settings_are_refused():
    with pytest.raises(ConfigError, match="score_thresh"):
        DETECTORS.build("yolo", classes=3, in_chans=1, input_size=(64, 64), width=4, score_thresh=1.5)


def test_map_helper_counts_a_false_positive_ranked_first():
    targets = [{"boxes": torch.tensor([[0.0, 0, 10, 10]]), "labels": torch.tensor([0])}]
    good = [{"boxes": torch.tensor([[0.0, 0, 10, 10]]), "scores": torch.tensor([0.9]), "labels": torch.tensor([0])}]
    fp_first = [{"boxes": torch.tensor([[30.0, 30, 40, 40], [0, 0, 10, 10]]), "scores": torch.tensor([0.9, 0.8]),
                 "labels": torch.tensor([0, 0])}]
    assert mean_ap(good, targets, 1) == 1.0
    assert mean_ap(fp_first, targets, 1) == pytest.approx(0.5)
