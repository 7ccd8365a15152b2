import numpy as np
import pytest
import torch
from torchvision.ops import box_iou

from nnlab.errors import ConfigError, UserError
from nnlab.models.detection import DETECTORS
from nnlab.models.detection.classic.base import svm_planes
from tests.models.detection.classic.conftest import assert_well_formed


def build(**kw):
    return DETECTORS.build("hog_svm", **{"classes": 2, "window": (16, 16), "cell": 4, "min_scale": 0.8, **kw})


def test_dense_window_features_are_scikit_image_hog():
    from skimage.feature import hog

    det = build()
    image = torch.rand(1, 16, 16)
    feats, ny, nx = det.dense_features(image)
    assert (ny, nx) == (1, 1) and feats.shape == (1, det.dim)
    ref = hog(image[0].double().numpy(), orientations=9, pixels_per_cell=(4, 4), cells_per_block=(2, 2),
              block_norm="L2-Hys")
    np.testing.assert_allclose(feats[0], ref, atol=1e-12)
    big = torch.zeros(3, 28, 36)  # colour, 4 x 6 windows a cell apart
    big[:, 6:18, 10:22] = torch.rand(3, 12, 12)  # content 2 px inside window (1, 2): its border gradients are 0
    feats, ny, nx = det.dense_features(big)
    assert (ny, nx) == (4, 6)
    np.testing.assert_allclose(feats[1 * 6 + 2], det.hog(big[:, 4:20, 8:24]), atol=1e-12)
    assert not np.allclose(feats[1 * 6 + 1], det.hog(big[:, 4:20, 4:20]))  # content at its border: they differ


def test_svm_planes_are_scikit_learns():
    from sklearn.svm import LinearSVC

    rng = np.random.default_rng(0)
    x, y = np.concatenate([rng.normal(1, 1, (20, 5)), rng.normal(-1, 1, (30, 5))]), np.repeat([0, 1, 2], [10, 10, 30])
    weight, bias = svm_planes(x, y, 2, C=0.1)
    ref = LinearSVC(C=0.1, max_iter=5000, random_state=0).fit(x, y)
    xt = rng.normal(0, 1, (7, 5))
    np.testing.assert_allclose((torch.from_numpy(xt).float() @ weight.T + bias).numpy(),
                               ref.decision_function(xt)[:, :2], atol=1e-4)
    y1 = np.repeat([0, 1], [20, 30])  # binary: one plane, sign flipped so that the object scores high
    weight, bias = svm_planes(x, y1, 1, C=0.1)
    ref = LinearSVC(C=0.1, max_iter=5000, random_state=0).fit(x, y1)
    np.testing.assert_allclose((torch.from_numpy(xt).float() @ weight.T + bias).numpy()[:, 0],
                               -ref.decision_function(xt), atol=1e-4)
    weight, bias = svm_planes(x, np.repeat([1, 2], [20, 30]), 2, C=0.1)  # class 0 never seen: never fires
    assert bias[0] == -float("inf") and bias[1] > -float("inf")


def false_positives(det, images, targets):
    return sum(int(((s.max(1).values > 0) & (box_iou(w, t["boxes"]).max(1).values < 0.3)).sum())
               for w, s, t in [(*det.windows(im.float() / 255), t) for im, t in zip(images, targets)])


def test_hard_negative_mining_removes_false_positives_and_finds_digits(scenes):
    images, targets = scenes(16, size=48)
    plain, mined = build(mining_rounds=0), build(mining_rounds=1, hard_negatives_per_image=5)
    plain.fit(images, targets)
    stats = mined.fit(images, targets)
    assert stats["positives"] == 16 and stats["hard_negatives_round1"] > 0
    test_images, test_targets = scenes(8, size=48, seed=1)
    assert false_positives(mined, test_images, test_targets) < false_positives(plain, test_images, test_targets)
    out = mined.predict(test_images)
    for r in out:
        assert_well_formed(r, 2)
    hits = [len(o["boxes"]) and float(box_iou(o["boxes"][:1], t["boxes"])[0, 0]) >= 0.5
            for o, t in zip(out, test_targets)]
    assert sum(hits) >= 3


def test_empty_results_and_bad_input(scenes):
    images, targets = scenes(4, size=48)
    det = build(mining_rounds=0, score_threshold=1e9)
    with pytest.raises(UserError, match="not been trained"):
        det.predict(images)
    det.fit(images, targets)
    for r in det.predict(torch.zeros(2, 1, 48, 48, dtype=torch.uint8)):
        assert_well_formed(r, 2)
        assert len(r["boxes"]) == 0
    with pytest.raises(UserError, match="larger than the 10x40 image"):
        det.predict(torch.zeros(1, 1, 10, 40))
    with pytest.raises(ConfigError, match="multiple of the cell"):
        build(window=(18, 16))
    empty = [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}] * 4
    with pytest.raises(UserError, match="at least one box"):
        build().fit(images, empty)
    state = det.state_dict()
    fresh = build()
    fresh.load_state_dict(state)
    torch.testing.assert_close(fresh.weight, det.weight)
