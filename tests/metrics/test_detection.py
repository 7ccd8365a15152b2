import numpy as np
import pytest

from nnlab.metrics.coco_reference import cocoeval
from nnlab.metrics.detection import COCO_INTERPOLATION, evaluate_detections


def _boxes(rng, n, size=160, lo=2, hi=110):
    xy = rng.uniform(0, size, (n, 2))
    return np.concatenate([xy, xy + rng.uniform(lo, hi, (n, 2))], 1)


def _data(seed, n_img=30, k=3, crowd=0.0, empty=0.0, structured=False, masks=False, size=160):
    rng = np.random.default_rng(seed)
    preds, targets = [], []
    for _ in range(n_img):
        g = 0 if rng.random() < empty else int(rng.integers(1, 6))
        gb, gl = _boxes(rng, g, size), rng.integers(0, k, g)
        if structured:  # noisy copies of the ground truth plus a few false positives, scores tied to quality
            noise = rng.normal(0, 4, gb.shape)
            pb = np.concatenate([gb + noise, _boxes(rng, 3, size)])
            pl = np.concatenate([gl, rng.integers(0, k, 3)])
            sc = np.concatenate([1 / (1 + np.abs(noise).mean(1)), rng.uniform(0, 0.3, 3)]).round(2)  # ties too
        else:
            d = int(rng.integers(0, 12))
            pb, pl, sc = _boxes(rng, d, size), rng.integers(0, k, d), rng.random(d)
        pb[:, 2:] = np.maximum(pb[:, 2:], pb[:, :2] + 1)
        t = {"boxes": gb, "labels": gl, "iscrowd": rng.random(g) < crowd}
        p = {"boxes": pb, "labels": pl, "scores": sc}
        if masks:
            t["masks"], p["masks"] = _masks(gb, size // 4), _masks(pb, size // 4, rng)
        preds.append(p)
        targets.append(t)
    return preds, targets


def _masks(boxes, size, rng=None):
    """Box-shaped masks (a quarter scale) with a few pixels flipped, so mask IoU differs from box IoU."""
    out = np.zeros((len(boxes), size, size), bool)
    for i, (x1, y1, x2, y2) in enumerate((boxes / 4).round().astype(int)):
        out[i, max(y1, 0):y2, max(x1, 0):x2] = True
    if rng is not None:
        out ^= rng.random(out.shape) < 0.05
    return out


def _same(ours, ref, max_dets=(1, 10, 100)):
    np.testing.assert_allclose(ours.precision, ref.eval["precision"], atol=1e-4)
    np.testing.assert_allclose(ours.recall, ref.eval["recall"], atol=1e-4)
    if 100 in max_dets and len(max_dets) == 3:
        with __import__("contextlib").redirect_stdout(__import__("io").StringIO()):
            ref.summarize()
        np.testing.assert_allclose(list(ours.stats.values())[:12], ref.stats, atol=1e-4)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("structured", [False, True])
def test_equals_cocoeval(seed, structured):
    preds, targets = _data(seed, structured=structured)
    ours = evaluate_detections(preds, targets, 3)
    _same(ours, cocoeval(preds, targets, 3))
    assert ours.stats["mAP50"] >= 0 and (not structured or ours.stats["mAP50"] > 0.5)


@pytest.mark.parametrize("max_dets", [(1, 3, 5), (1, 10, 300), (2,), (1, 50)])
def test_max_dets_other_than_100(max_dets):
    preds, targets = _data(4, structured=True)
    ours = evaluate_detections(preds, targets, 3, max_dets=max_dets)
    ref = cocoeval(preds, targets, 3, max_dets=max_dets)
    _same(ours, ref, max_dets)
    rows = {r[0]: r for r in ours.table()}
    assert all(rows[f"AR{m}"][2] == "0.50:0.95" and rows[f"AR{m}"][4] == m for m in max_dets)
    # COCOeval.summarize() reads maxDets=100 for its first AP (-1 when 100 is absent); ours uses the largest
    top = ref.eval["precision"][:, :, :, 0, -1]
    assert ours.stats["mAP"] == pytest.approx(top[top > -1].mean(), abs=1e-12)


def test_images_without_ground_truth_and_crowd():
    preds, targets = _data(5, n_img=40, crowd=0.3, empty=0.4, structured=True)
    assert any(len(t["labels"]) == 0 for t in targets) and any(t["iscrowd"].any() for t in targets)
    _same(evaluate_detections(preds, targets, 3), cocoeval(preds, targets, 3))


def test_class_without_ground_truth_is_undefined():
    preds, targets = _data(6, k=2, structured=True)
    ours = evaluate_detections(preds, targets, 4)  # classes 2 and 3 have no ground truth
    _same(ours, cocoeval(preds, targets, 4))
    assert ours.per_class()["3"]["AP"] == -1 and ours.per_class()["0"]["AP"] > 0


@pytest.mark.parametrize("seed", range(2))
def test_segm_equals_cocoeval(seed):
    preds, targets = _data(seed, n_img=12, crowd=0.2, structured=True, masks=True)
    ours = evaluate_detections(preds, targets, 3, iou_type="segm")
    _same(ours, cocoeval(preds, targets, 3, iou_type="segm"))
    assert ours.stats["mAP"] != evaluate_detections(preds, targets, 3).stats["mAP"]
    soft = [{**p, "masks": p["masks"][:, None] * 0.8 + 0.1} for p in preds]  # Mask R-CNN-style probabilities
    np.testing.assert_array_equal(evaluate_detections(soft, targets, 3, iou_type="segm").precision, ours.precision)


def test_perfect_predictions_and_voc_variants():
    rng = np.random.default_rng(0)
    targets = [{"boxes": _boxes(rng, 3), "labels": np.array([0, 1, 0])} for _ in range(4)]
    preds = [{"boxes": t["boxes"], "labels": t["labels"], "scores": np.ones(3)} for t in targets]
    ours = evaluate_detections(preds, targets, ["a", "b"])
    assert ours.stats["mAP"] == pytest.approx(1.0) and ours.stats["VOC11_mAP50"] == pytest.approx(1.0)
    # one class, 2 ground truths: hit (0.9), miss (0.8), hit (0.7) -> precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1
    t = [{"boxes": np.array([[0, 0, 10, 10], [20, 20, 30, 30.0]]), "labels": np.array([0, 0])}]
    p = [{"boxes": np.array([[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 30.0]]), "labels": np.zeros(3, int),
          "scores": np.array([0.9, 0.8, 0.7])}]
    voc = evaluate_detections(p, t, 1).voc
    assert voc["voc_all"][0] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert voc["voc11"][0] == pytest.approx((6 * 1 + 5 * 2 / 3) / 11)


def test_table_names_interpolation_and_pr_png(tmp_path):
    preds, targets = _data(1, structured=True)
    ours = evaluate_detections(preds, targets, ["x", "y", "z"])
    rows = {r[0]: r for r in ours.table()}
    assert rows["mAP"][2:] == ["0.50:0.95", "all", 100, COCO_INTERPOLATION] and "AP[z]" in rows
    assert rows["VOC11_mAP50"][2] == "0.50" and "11-point" in rows["VOC11_mAP50"][5]
    assert rows["AR10"][4] == 10 and rows["AR100_small"][3] == "small" and rows["mAP75"][2] == "0.75"
    png = ours.plot_pr(tmp_path / "pr.png")
    assert png.stat().st_size > 1000


def test_torch_tensors_and_images_without_predictions():
    import torch

    preds, targets = _data(7, structured=True)
    preds[0] = {"boxes": np.zeros((0, 4)), "labels": np.zeros(0, int), "scores": np.zeros(0)}
    as_torch = [{k: torch.as_tensor(v) for k, v in d.items()} for d in preds]
    t_torch = [{k: torch.as_tensor(v) for k, v in d.items()} for d in targets]
    ours = evaluate_detections(as_torch, t_torch, 3)
    np.testing.assert_array_equal(ours.precision, evaluate_detections(preds, targets, 3).precision)
    _same(ours, cocoeval(preds, targets, 3))
    nothing = [{"boxes": np.zeros((0, 4)), "labels": np.zeros(0, int), "scores": np.zeros(0)} for _ in targets]
    assert evaluate_detections(nothing, targets, 3).stats["mAP"] == 0.0


def test_segm_with_images_without_detections_or_objects_equals_cocoeval():
    preds, targets = _data(7, n_img=10, empty=0.3, structured=True, masks=True)
    for i in (0, 3):  # two images where the model finds nothing
        preds[i] = {"boxes": np.zeros((0, 4)), "labels": np.zeros(0, np.int64), "scores": np.zeros(0),
                    "masks": np.zeros((0, 40, 40), bool)}
    assert any(len(t["labels"]) == 0 for t in targets)
    _same(evaluate_detections(preds, targets, 3, iou_type="segm"), cocoeval(preds, targets, 3, iou_type="segm"))
