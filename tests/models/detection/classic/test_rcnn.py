import ctypes

import numpy as np
import pytest
import torch
from torchvision.models.detection._utils import BoxCoder
from torchvision.ops import box_iou

from nnlab.errors import UserError
from nnlab.models.detection import DETECTORS
from nnlab.models.detection.classic.rcnn import decode, encode, selective_search
from tests.models.detection.classic.conftest import assert_well_formed, make_scenes


def build():
    torch.manual_seed(0)
    return DETECTORS.build("rcnn", classes=2, in_chans=1, proposals=30, ss_size=48, epochs=15, reg_lambda=10.0)


@pytest.fixture(scope="module")
def fitted():
    images, targets = make_scenes(8, size=48)
    det = build()
    return det, det.fit(images, targets), images, targets


def test_box_parameterization_is_torchvisions_box_coder():
    gen = torch.Generator().manual_seed(0)
    xy = torch.rand(20, 2, generator=gen) * 50
    proposals = torch.cat([xy, xy + 5 + torch.rand(20, 2, generator=gen) * 30], 1)
    boxes = proposals + torch.randn(20, 4, generator=gen) * 2
    coder = BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
    deltas = encode(proposals, boxes)
    torch.testing.assert_close(deltas, coder.encode_single(boxes, proposals))
    torch.testing.assert_close(decode(proposals, deltas), boxes, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(decode(proposals, deltas), coder.decode_single(deltas, proposals))


def test_selective_search_is_opencvs_scaled_back():
    import cv2

    images, _ = make_scenes(1, size=48)
    boxes = selective_search(images[0], 1000, 96)  # run at twice the size
    arr = cv2.resize(np.repeat(images[0, 0].numpy()[:, :, None], 3, 2), (96, 96), interpolation=cv2.INTER_AREA)
    ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    ss.setBaseImage(arr)
    ss.switchToSelectiveSearchFast()
    ctypes.CDLL(None).srand(0)  # OpenCV ranks proposals with C's rand()
    ref = torch.tensor(ss.process(), dtype=torch.float32)
    torch.testing.assert_close(boxes, torch.cat([ref[:, :2], ref[:, :2] + ref[:, 2:]], 1) / 2)
    assert len(selective_search(images[0], 3, 96)) == 3


def test_fit_reports_each_stage_and_finds_the_digits(fitted):
    det, stats, images, targets = fitted
    assert set(stats) == {"proposals_per_image", "proposal_recall", "finetune_loss", "svm_positives",
                          "svm_negatives", "regression_samples"}
    assert stats["proposal_recall"] == det.proposal_recall(images, targets) > 0.5
    assert stats["svm_positives"] == 8 and stats["svm_negatives"] > 0 and stats["regression_samples"] > 0
    assert det.reg_weight.abs().sum() > 0
    out = det.predict(images)
    for r in out:
        assert_well_formed(r, 2)
    hits = [len(o["boxes"]) and float(box_iou(o["boxes"][:1], t["boxes"])[0, 0]) >= 0.5
            and int(o["labels"][0]) == int(t["labels"][0]) for o, t in zip(out, targets)]
    assert sum(hits) >= 5


def test_empty_images_state_dict_and_bad_input(fitted):
    det, _, images, _ = fitted
    for r in det.predict(torch.zeros(2, 1, 48, 48, dtype=torch.uint8)):
        assert_well_formed(r, 2)
    fresh = build()
    with pytest.raises(UserError, match="not been trained"):
        fresh.predict(images[:1])
    fresh.load_state_dict(det.state_dict())
    a, b = fresh.predict(images[:2]), det.predict(images[:2])
    assert all(torch.equal(x["boxes"], y["boxes"]) for x, y in zip(a, b))
    empty = [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}] * 2
    with pytest.raises(UserError, match="at least one box"):
        build().fit(images[:2], empty)
    with pytest.raises(UserError, match="3 outputs"):
        from nnlab.models.detection.classic.rcnn import RCNN
        from nnlab.models import MODELS
        RCNN(MODELS.build("lenet5", num_classes=2, in_chans=1, input_size=(32, 32)), 2)
