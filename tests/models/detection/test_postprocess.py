"""The one post-processing of dense detector outputs (eager models and deployed networks alike)."""
import pytest
import torch

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
