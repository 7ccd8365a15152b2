"""Detector export: ONNX Runtime's dense tensors + the shared post-processing == the eager detector's detections."""
import pytest
import torch

import nnlab.models.detection  # noqa: F401  registers the detectors
from nnlab.data import Preprocess
from nnlab.deploy.detection import DetectionDecoder, detection_diff, detection_graph
from nnlab.deploy.export import ExportError, export_model, read_metadata, sample_inputs
from nnlab.errors import UserError
from nnlab.models.registry import DETECTORS

PRE = Preprocess(1, 64, 64, "squash", [0.5], [0.25])
TINY = {"width": 4, "neck_width": 8, "score_thresh": 0.0}  # threshold 0: random weights still give detections
DETECTORS_ARGS = {
    "yolo": {}, "yolo-v1": {"anchors": "none"}, "yolo-fpn": {"neck": "fpn"}, "ssd": {},
    "retinanet": {"anchor_scale": 2.0}, "detectnet": {"coverage_thresh": 0.01},
    "faster_rcnn": {"anchor_scale": 2.0}, "fast_rcnn": {},
    "mask_rcnn": {"anchor_scale": 2.0, "fc_width": 16, "mask_width": 8},
}


def _build(key: str) -> torch.nn.Module:
    torch.manual_seed(0)
    args = {**TINY, **DETECTORS_ARGS[key]}
    if key == "fast_rcnn":
        args.pop("neck_width")
    model = DETECTORS.build(key.split("-")[0], classes=3, in_chans=1, input_size=(64, 64), **args).eval()
    with torch.no_grad():  # spread the untrained head's scores: no near-ties whose order float error could swap
        for name, p in model.head.named_parameters():
            p.mul_(2.0) if not name.endswith("bias") else p.zero_()
    return model


def _export(model, key, tmp_path, fmt="onnx"):
    graph = detection_graph(model, key, {})
    out = tmp_path / f"{key}.{fmt}"
    result = export_model(graph.module, PRE, ["a", "b", "c"], fmt, out, not graph.batch_one, samples=3, info=graph.meta,
                          outputs=graph.outputs, compare=graph.compare)
    return result, read_metadata(result.path)


def _assert_same(got, want):
    """Same count, labels, scores (1e-5) and boxes (1e-3 px), paired up whatever the order of exact ties."""
    assert len(got["scores"]) == len(want["scores"]) > 0
    assert detection_diff(got, want) < 1e-3


SLOW = {"faster_rcnn", "mask_rcnn"}  # tracing torchvision's RPN + RoI heads takes a few seconds


def _keys(keys):
    return [pytest.param(k, marks=pytest.mark.slow) if k in SLOW else k for k in keys]


@pytest.mark.parametrize("key", _keys(sorted(DETECTORS_ARGS)))
def test_onnx_detections_equal_the_eager_detectors(key, tmp_path):
    import onnxruntime as ort

    model = _build(key)
    result, meta = _export(model, key, tmp_path)
    decode = DetectionDecoder(meta)
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    x = sample_inputs(PRE, 3, seed=5)
    with torch.inference_mode():
        want = model(x)
    step = 1 if meta["graph"] == "whole" else 3  # two-stage graphs take one image at a time
    got = []
    for i in range(0, 3, step):
        got += decode(session.run(meta["outputs"], {"input": x[i: i + step].numpy()}), (64, 64))
    for g, w in zip(got, want):
        _assert_same(g, w)
    assert meta["dynamic_batch"] == (meta["graph"] == "dense")


def test_a_request_threshold_reruns_the_post_processing(tmp_path):
    model = _build("yolo")
    result, meta = _export(model, "yolo", tmp_path)
    import onnxruntime as ort

    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    x = sample_inputs(PRE, 1, seed=2)
    raw = session.run(meta["outputs"], {"input": x.numpy()})
    model.score_thresh = 0.004
    with torch.inference_mode():
        (want,) = model(x)
    (got,) = DetectionDecoder(meta)(raw, (64, 64), score_threshold=0.004)
    _assert_same(got, want)
    assert bool((got["scores"] > 0.004).all())


def test_torchscript_export_of_a_dense_detector(tmp_path):
    result, meta = _export(_build("ssd"), "ssd", tmp_path, "torchscript")
    assert meta["outputs"] == ["boxes", "scores"] and result.max_abs_diff < 1e-3


def test_two_stage_detector_exports_whole_at_batch_one():
    graph = detection_graph(_build("faster_rcnn"), "faster_rcnn", {})
    assert graph.batch_one and graph.outputs == ("boxes", "scores", "labels") and graph.meta["graph"] == "whole"
    masks = detection_graph(_build("mask_rcnn"), "mask_rcnn", {})
    assert masks.batch_one and masks.outputs == ("boxes", "scores", "labels", "masks")
    assert DetectionDecoder({**masks.meta, "graph": "whole"}).outputs == masks.outputs


def test_classic_detector_is_refused_with_the_reason():
    model = DETECTORS.build("hog_svm", classes=2)
    with pytest.raises(UserError, match="classic detector.*cannot be exported.*serves it eagerly"):
        detection_graph(model, "hog_svm", {})


def test_export_check_catches_a_wrong_output_shape(tmp_path, monkeypatch):
    import nnlab.deploy.export as ex

    real = ex._runner
    monkeypatch.setattr(ex, "_runner", lambda fmt, data, outputs: (
        lambda x, f=real(fmt, data, outputs): [a[:, :-1] for a in f(x)]))
    with pytest.raises(ExportError, match="returns shape"):
        _export(_build("yolo"), "yolo", tmp_path)


@pytest.mark.parametrize("key", _keys(["faster_rcnn", "detectnet"]))
def test_a_deployed_file_answers_what_the_eager_model_finds(key, tmp_path, photos):
    """From the exported file alone (post-processing options in its metadata), in the photo's own pixels."""
    from nnlab.deploy import Predictor
    from nnlab.tasks.detect import place_image

    model = _build(key)
    graph = detection_graph(model, key, {"resize_mode": "letterbox"})
    path = export_model(graph.module, PRE, ["a", "b", "c"], "onnx", tmp_path / "m.onnx", not graph.batch_one,
                        samples=2, info={"task": "detect", **graph.meta}, outputs=graph.outputs,
                        compare=graph.compare).path
    predictor = Predictor.open(path)
    assert predictor.fixed_batch == (1 if graph.batch_one else None)
    for photo, got in zip(photos, predictor.predict_files(photos)):
        arr, place, _ = place_image(photo, PRE, "letterbox")
        with torch.inference_mode():
            (want,) = model(PRE.normalize(torch.from_numpy(arr)[None]))
        boxes = place.to_image(want["boxes"])
        assert got["size"] == list(place.size) and len(got["detections"]) == len(boxes) > 0
        mine = {"boxes": torch.tensor([d["box"] for d in got["detections"]]),
                "scores": torch.tensor([d["score"] for d in got["detections"]]),
                "labels": torch.tensor([d["label"] for d in got["detections"]])}
        assert detection_diff(mine, {**want, "boxes": boxes}) < 2e-3  # JSON boxes carry 3 decimals


def test_detection_diff_pairs_detections_whatever_their_order():
    a = {"boxes": torch.tensor([[0.0, 0, 5, 5], [1, 1, 9, 9]]), "scores": torch.tensor([0.5, 0.5]),
         "labels": torch.tensor([0, 1])}
    b = {k: v.flip(0) for k, v in a.items()}
    assert detection_diff(a, b) == 0.0
    assert detection_diff(a, {**b, "labels": torch.tensor([0, 0])}) == float("inf")  # a label differs
    assert detection_diff(a, {k: v[:1] for k, v in a.items()}) == float("inf")  # a detection is missing
    assert detection_diff(a, {**a, "boxes": a["boxes"] + 0.25}) == 0.25
    masks = torch.zeros(2, 3, 3)
    shifted = masks.clone()
    shifted[1, 0, 0] = 0.5  # the second detection's mask (the first of b, flipped)
    assert detection_diff({**a, "masks": masks}, {**b, "masks": masks}) == 0.0
    assert detection_diff({**a, "masks": masks}, {**b, "masks": shifted.flip(0)}) == 0.5  # paired, then compared
