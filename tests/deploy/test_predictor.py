"""The predictor gives what ``nnlab.predict`` gives, on every backend, from files or uploaded bytes."""
import numpy as np
import pytest

import nnlab
from nnlab.deploy import Predictor, export_run
from nnlab.errors import DataError, UserError


def _assert_same(got, want):
    assert [r["image"] for r in got] == [r["image"] for r in want]
    for g, w in zip(got, want):
        assert [t["class"] for t in g["top"]] == [t["class"] for t in w["top"]]
        np.testing.assert_allclose([t["prob"] for t in g["top"]], [t["prob"] for t in w["top"]], atol=1e-5)


@pytest.mark.parametrize("kind", ["onnx", "onnx-dynamic", "torchscript", "eager", "run-onnx"])
def test_predictor_equals_nnlab_predict(mlp_run, images, tmp_path, kind):
    if kind == "eager":
        predictor = Predictor.open(mlp_run, backend="torch")
    elif kind == "run-onnx":  # a run directory served through ONNX Runtime (exported on the fly)
        predictor = Predictor.open(mlp_run)
    else:
        fmt = "torchscript" if kind == "torchscript" else "onnx"
        predictor = Predictor.open(export_run(mlp_run, fmt, tmp_path / f"m.{fmt}",
                                              dynamic_batch=kind == "onnx-dynamic").path)
    assert predictor.backend == {"eager": "torch", "torchscript": "torchscript"}.get(kind, "onnx")
    _assert_same(predictor.predict_files(images, 3), nnlab.predict(mlp_run, images, 3))


def test_fixed_batch_model_takes_any_number_of_images(mlp_run, images, tmp_path):
    predictor = Predictor.open(export_run(mlp_run, "onnx", tmp_path / "m.onnx").path)
    assert predictor.fixed_batch == 1
    assert predictor.probabilities(predictor.prepare_files(images)).shape == (len(images), 10)


def test_uploaded_bytes_are_preprocessed_like_files(mlp_run, images):
    predictor = Predictor.open(mlp_run, backend="torch")
    from_bytes = np.stack([predictor.prepare(p.read_bytes(), p.name) for p in images])
    np.testing.assert_array_equal(from_bytes, predictor.prepare_files(images))
    probs = predictor.probabilities(from_bytes)
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)


def test_undecodable_upload_names_the_file(mlp_run):
    predictor = Predictor.open(mlp_run, backend="torch")
    with pytest.raises(DataError, match="cannot decode image photo.jpg") as e:
        predictor.prepare(b"\x89PNG not really", "photo.jpg")
    assert "object at 0x" not in str(e.value) and "'photo.jpg'" in str(e.value)  # Pillow's %r names it too


def test_bad_targets(mlp_run, tmp_path):
    onnx_file = export_run(mlp_run, "onnx", tmp_path / "m.onnx").path
    with pytest.raises(UserError, match="ONNX file: serve it with --backend onnx"):
        Predictor.open(onnx_file, backend="torch")
    with pytest.raises(UserError, match="unknown backend 'tensorrt'"):
        Predictor.open(onnx_file, backend="tensorrt")
    with pytest.raises(UserError, match="neither a run directory nor a model file"):
        Predictor.open(tmp_path / "nothing")
    with pytest.raises(UserError, match="not an nnlab run directory"):
        Predictor.open(tmp_path)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"junk")
    with pytest.raises(UserError, match="cannot be loaded by ONNX Runtime"):
        Predictor.open(junk)
