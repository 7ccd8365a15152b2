"""Export parity (ONNX Runtime / TorchScript against eager PyTorch), metadata round trip, refusals."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from nnlab.deploy import export as ex
from nnlab.deploy.export import ExportError, export_run, jit_load, read_metadata, sample_inputs
from nnlab.errors import UserError
from nnlab.inference import load_run
from tests.deploy.runs import make_run


def _run_file(path, fmt, x: np.ndarray) -> np.ndarray:
    if fmt == "onnx":
        return ort.InferenceSession(str(path)).run(None, {"input": x})[0]
    return jit_load(str(path))(torch.from_numpy(x)).detach().numpy()


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("dynamic", [False, True])
def test_exported_mlp_matches_pytorch(mlp_run, tmp_path, fmt, dynamic):
    result = export_run(mlp_run, fmt, tmp_path / f"m.{fmt}", dynamic_batch=dynamic)
    assert result.path.is_file() and result.max_abs_diff < 1e-4
    assert result.checked_batches == ([1, 3, 8] if dynamic else [1])
    run = load_run(mlp_run)
    x = sample_inputs(run.preprocess, 4, seed=7)  # inputs the export check did not see
    with torch.inference_mode():
        ref = run.model(x).numpy()
    rows = [x.numpy()] if dynamic else [x[i: i + 1].numpy() for i in range(4)]
    got = np.concatenate([_run_file(result.path, fmt, r) for r in rows])
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=1e-5)


def test_onnx_batch_axis_is_fixed_or_dynamic(mlp_run, tmp_path):
    fixed = export_run(mlp_run, "onnx", tmp_path / "f.onnx").path
    dynamic = export_run(mlp_run, "onnx", tmp_path / "d.onnx", dynamic_batch=True).path
    assert ort.InferenceSession(str(fixed)).get_inputs()[0].shape[0] == 1
    assert isinstance(ort.InferenceSession(str(dynamic)).get_inputs()[0].shape[0], str)
    with pytest.raises(Exception):  # a fixed-batch graph refuses batch 3
        ort.InferenceSession(str(fixed)).run(None, {"input": np.zeros((3, 1, 8, 8), np.float32)})


@pytest.mark.slow
def test_convnet_exports_with_dynamic_batch(lenet_run, tmp_path):
    for fmt in ("onnx", "torchscript"):
        result = export_run(lenet_run, fmt, tmp_path / f"lenet.{fmt}", dynamic_batch=True)
        assert result.max_abs_diff < 1e-4


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_metadata_round_trip(mlp_run, fmt):
    result = export_run(mlp_run, fmt)  # default path inside the run
    assert result.path == mlp_run / "export" / ("model.onnx" if fmt == "onnx" else "model.torchscript.pt")
    assert export_run(mlp_run, fmt, mlp_run / "export").path == result.path  # a folder gets the default name
    meta = read_metadata(result.path)
    run = load_run(mlp_run)
    assert meta["preprocess"] == run.preprocess.to_dict() and meta["classes"] == run.classes
    assert meta["format"] == fmt and meta["model"] == "mlp" and meta["max_abs_diff"] == result.max_abs_diff
    if fmt == "onnx":  # stored as a standard metadata_props entry, readable by any ONNX tool
        keys = {p.key for p in onnx.load(str(result.path)).metadata_props}
        assert "nnlab" in keys


def test_disagreement_fails_loudly(mlp_run, tmp_path, monkeypatch):
    real = ex._runner
    monkeypatch.setattr(ex, "_runner", lambda fmt, data, outputs: (
        lambda x, f=real(fmt, data, outputs): [a + 0.01 for a in f(x)]))
    with pytest.raises(ExportError, match="disagrees with PyTorch.*tolerance"):
        export_run(mlp_run, "onnx", tmp_path / "bad.onnx")
    assert not (tmp_path / "bad.onnx").exists()  # nothing written


def test_knn_cannot_be_exported(tmp_path):
    run = make_run(tmp_path, "knn")
    with pytest.raises(ExportError, match="'knn'.*cannot be exported"):
        export_run(run, "onnx", tmp_path / "knn.onnx")


def test_bad_inputs(mlp_run, tmp_path):
    with pytest.raises(UserError, match="not an nnlab run directory"):
        export_run(tmp_path, "onnx")
    with pytest.raises(UserError, match="unknown export format 'tflite'; valid: onnx, torchscript"):
        export_run(mlp_run, "tflite")
    with pytest.raises(UserError, match="tolerance must be positive"):
        export_run(mlp_run, "onnx", tolerance=0)
    plain = tmp_path / "plain.onnx"
    plain.write_bytes(b"not onnx")
    with pytest.raises(UserError, match="not a readable ONNX file"):
        read_metadata(plain)
    with pytest.raises(UserError, match="not found"):
        read_metadata(tmp_path / "missing.onnx")
