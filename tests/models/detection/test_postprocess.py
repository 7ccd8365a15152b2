"""The one post-processing of dense detector outputs (eager models and deployed networks alike)."""
import pytest
import torch
from torchvision.ops import batched_nms, clip_boxes_to_image

from nnlab.errors import ConfigError
from nnlab.models.detection import DETECTORS
from nnlab.models.detection.postprocess import PostProcess, postprocess


def test_spec_round_trips_as_plain_data_and_is_checked():
    spec = PostProcess(decode="cluster", score_thresh=0.2, coverage_thresh=0.3)
    assert PostProcess.from_dict({**spec.to_dict(), "graph": "dense"}) == spec  # unknown keys ignored
    assert spec.with_threshold(0.5).score_thresh == 0.5 and spec.with_threshold(None) is spec
    assert spec.outputs == ("boxes", "scores", "coverage") and PostProcess().outputs == ("boxes", "scores")
    with pytest.raises(ConfigError, match="unknown detection decoder"):
        PostProcess(decode="soft_nms")
    with pytest.raises(ConfigError, match="score_thresh"):
        PostProcess(score_thresh=1.0)


def test_topk_takes_box_class_pairs_then_thresholds_and_suppresses_per_class():
    boxes = torch.tensor([[[0.0, 0, 10, 10], [1, 1, 11, 11], [30, 30, 40, 40]]])  # (1, 3, 4)
    scores = torch.tensor([[[0.9, 0.0], [0.8, 0.7], [0.02, 0.6]]])  # (1, 3, 2)
    (out,) = postprocess({"boxes": boxes, "scores": scores}, (64, 64), PostProcess(score_thresh=0.05))
    # box 1 as class 0 overlaps box 0 (0.9): suppressed; as class 1 it stays; box 2's class 0 is under 0.05
    assert out["scores"].tolist() == pytest.approx([0.9, 0.7, 0.6])
    assert out["labels"].tolist() == [0, 1, 1]


def test_cluster_merges_covered_cells_weighted_by_score():
    boxes = torch.tensor([[[0.0, 0, 10, 10], [2, 2, 12, 12], [40, 40, 50, 50]]])
    scores = torch.tensor([[[0.6, 0.0], [0.2, 0.0], [0.0, 0.5]]])
    coverage = torch.tensor([[0.9, 0.5, 0.1]])  # the third cell is not covered
    spec = PostProcess(decode="cluster", coverage_thresh=0.4, cluster_iou=0.3)
    (out,) = postprocess({"boxes": boxes, "scores": scores, "coverage": coverage}, (64, 64), spec)
    assert out["labels"].tolist() == [0] and out["scores"].tolist() == pytest.approx([0.6])
    assert out["boxes"].tolist() == [pytest.approx([0.5, 0.5, 10.5, 10.5])]  # (0.6 * b0 + 0.2 * b1) / 0.8


@pytest.mark.parametrize("name,args", [("yolo", {}), ("detectnet", {"coverage_thresh": 0.01}), ("ssd", {})])
def test_the_eager_detector_is_postprocess_of_its_dense_outputs(name, args):
    torch.manual_seed(0)
    model = DETECTORS.build(name, classes=3, in_chans=1, input_size=(64, 64), width=4, neck_width=8,
                            score_thresh=0.0, **args).eval()
    x = torch.randn(2, 1, 64, 64)
    with torch.inference_mode():
        want = model(x)
        got = postprocess(model.dense(x), (64, 64), model.postprocessing())
    for g, w in zip(got, want):
        assert len(w["scores"]) > 0 and all(torch.equal(g[k], w[k]) for k in w)


def test_thresholding_before_topk_keeps_torchvisions_order_of_selection():
    """Pairs under the score threshold are never candidates (cheaper), with the same detections as taking the
    ``topk`` best pairs first and thresholding after (torchvision.ops on the flattened pairs)."""
    torch.manual_seed(0)
    xy = torch.rand(1, 400, 2) * 60
    boxes = torch.cat([xy, xy + 4 + torch.rand(1, 400, 2) * 20], -1)  # (1, 400, 4) valid xyxy, some outside
    scores = torch.rand(1, 400, 5) ** 3  # (1, 400, 5): ~780 pairs above 0.3
    for thresh, topk in ((0.3, 300), (0.3, 2000), (0.9, 50)):
        spec = PostProcess(score_thresh=thresh, topk=topk, nms_thresh=0.5, max_detections=60)
        (got,) = postprocess({"boxes": boxes, "scores": scores}, (64, 64), spec)
        flat = scores[0].flatten()  # the reference: best pairs first, then threshold, clip, NMS
        idx = flat.topk(min(topk, len(flat))).indices
        idx = idx[flat[idx] > thresh]
        b, s, lab = clip_boxes_to_image(boxes[0][idx // 5], (64, 64)), flat[idx], idx % 5
        keep = batched_nms(b, s, lab, 0.5)[:60]
        assert torch.equal(got["boxes"], b[keep]) and torch.equal(got["scores"], s[keep])
        assert torch.equal(got["labels"], lab[keep])


def test_ssd_scores_are_the_softmax_over_classes_without_background():
    torch.manual_seed(0)
    model = DETECTORS.build("ssd", classes=3, in_chans=1, input_size=(64, 64), width=4).eval()
    x = torch.randn(2, 1, 64, 64)
    with torch.inference_mode():
        logits = model.head.head(list(model.neck(model.backbone(x)).values()))["cls_logits"]  # (B, N, 4)
        scores = model.dense(x)["scores"]
    assert torch.allclose(scores, logits.softmax(-1)[..., 1:], atol=1e-7, rtol=0)
