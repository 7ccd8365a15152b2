"""A trained Mask R-CNN used like any other run: exported whole (masks as an output) and checked in ONNX Runtime,
served with each detection's mask (COCO RLE), equal to what ``nnlab predict`` reports and draws."""
import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

import nnlab
from nnlab.data.boxes.rle import decode_rle
from nnlab.deploy import Predictor
from nnlab.deploy.detection import MASK_OUTPUTS, detection_diff
from nnlab.deploy.export import ExportError, export_run, ort_session, read_metadata, sample_inputs
from nnlab.deploy.server import create_app
from nnlab.inference import load_run


@pytest.fixture(scope="module")
def exported(mask_run, tmp_path_factory):
    """The run exported once to ONNX (the export itself checks 2 inputs against PyTorch)."""
    return export_run(mask_run, "onnx", tmp_path_factory.mktemp("onnx") / "m.onnx", samples=2)


def test_onnx_export_of_mask_rcnn_equals_pytorch_with_its_masks(mask_run, exported):
    result = exported
    meta = read_metadata(result.path)
    assert meta["outputs"] == list(MASK_OUTPUTS) and meta["graph"] == "whole" and not meta["dynamic_batch"]
    run, session = load_run(mask_run), ort_session(str(result.path))
    x = sample_inputs(run.preprocess, 3, seed=11)
    for i in range(3):  # batch 1: the second stage runs on one image's proposals
        got = dict(zip(MASK_OUTPUTS, session.run(meta["outputs"], {"input": x[i: i + 1].numpy()})))
        with torch.inference_mode():
            (want,) = run.model(x[i: i + 1])
        assert got["masks"].shape == tuple(want["masks"].shape) and got["masks"].shape[1:] == (64, 64)
        assert (want["masks"] >= 0.5).any()  # masks to compare, not just empty maps
        assert detection_diff(got, want) < 1e-4  # boxes, scores, labels and every mask probability


def test_mask_rcnn_export_refuses_a_dynamic_batch_with_the_reason(mask_run, tmp_path):
    with pytest.raises(ExportError, match="batch 1 only.*second stage"):
        export_run(mask_run, "onnx", tmp_path / "m.onnx", dynamic_batch=True)


def test_predict_reports_each_mask_in_the_images_pixels_and_draws_it(mask_run, photos, tmp_path):
    results = nnlab.predict(mask_run, photos, out=tmp_path)
    for photo, r in zip(photos, results):
        original = np.asarray(Image.open(photo).convert("RGB"))  # (h, w, 3)
        drawn = np.asarray(Image.open(r["png"]))
        assert r["boxes"] and drawn.shape == original.shape
        union = np.zeros(original.shape[:2], bool)
        for b in r["boxes"]:
            mask = decode_rle(b["mask"])  # (h, w) bool
            assert mask.shape == original.shape[:2] and mask.any()
            ys, xs = np.nonzero(mask)  # the mask lies in its box (1 px of bilinear slack)
            x1, y1, x2, y2 = b["box"]
            assert xs.min() >= x1 - 1 and xs.max() <= x2 + 1 and ys.min() >= y1 - 1 and ys.max() <= y2 + 1
            union |= mask
        changed = (drawn != original).any(-1)
        assert changed[union].mean() > 0.9  # masked pixels tinted (a few keep their colour by chance)
        far = ~union & ~_near_boxes(r["boxes"], original.shape[:2])
        assert not changed[far].any()  # nothing drawn away from the detections


def _near_boxes(boxes, shape, pad=12):
    """Pixels on or near any box outline or its label text."""
    near = np.zeros(shape, bool)
    for b in boxes:
        x1, y1, x2, y2 = (int(round(v)) for v in b["box"])
        near[max(0, y1 - pad): y2 + 2, max(0, x1 - 2): x2 + pad * 4] = True
    return near


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_deployed_masks_equal_nnlab_predict(mask_run, exported, photos, backend):
    predictor = Predictor.open(exported.path) if backend == "onnx" else Predictor.open(mask_run, "torch")
    want = nnlab.predict(mask_run, photos)
    with TestClient(create_app(predictor)) as client:
        r = client.post("/predict", files=[("files", (p.name, p.read_bytes(), "image/png")) for p in photos])
    assert r.status_code == 200
    for got, w in zip(r.json()["predictions"], want):
        pairs = _pair(got["detections"], w["boxes"])
        assert len(pairs) == len(w["boxes"]) > 0
        for d, e in pairs:
            a, b = decode_rle(d["mask"]), decode_rle(e["mask"])
            assert a.shape == b.shape and a.any()
            assert (a != b).mean() < 1e-3 if backend == "onnx" else np.array_equal(a, b)


def _pair(served, predicted):
    """Served and predicted detections of one image matched by class, score and box (order may differ at ties)."""
    out, left = [], list(predicted)
    for d in served:
        match = min(left, key=lambda e: abs(e["score"] - d["score"]) + max(abs(u - v) for u, v in zip(e["box"], d["box"])))
        assert match["class"] == d["class"] and abs(match["score"] - d["score"]) < 1e-4
        out.append((d, match))
        left.remove(match)
    return out


def test_cli_predict_prints_each_masks_pixel_count(mask_run, photos, capsys):
    from nnlab.cli.main import main

    assert main(["predict", str(mask_run), str(photos[0])]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "box [" in line]
    (want,) = nnlab.predict(mask_run, photos[:1])
    assert len(lines) == len(want["boxes"]) > 0
    assert all(line.endswith(f"mask {int(decode_rle(b['mask']).sum())} px") for line, b in zip(lines, want["boxes"]))
