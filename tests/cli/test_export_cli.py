"""nnlab export as a user runs it: the report it prints and its refusals."""
import pytest

from nnlab.deploy.export import read_metadata
from tests.cli.test_train_cli import main
from tests.deploy.runs import make_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("export_cli"), "mlp")


def test_export_reports_the_check(run_dir, tmp_path):
    out = tmp_path / "digits.onnx"
    r = main("export", str(run_dir), "--format", "onnx", "--dynamic-batch", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert f"exported onnx (dynamic batch) to {out}" in r.stdout
    assert "batch sizes [1, 3, 8]: max abs difference" in r.stdout
    assert read_metadata(out)["dynamic_batch"] is True


def test_export_refusals(run_dir, tmp_path):
    r = main("export", str(run_dir), "--format", "caffe")
    assert r.returncode == 2 and "unknown export format 'caffe'; valid: onnx, torchscript" in r.stderr
    assert "Traceback" not in r.stderr
    r = main("export", str(tmp_path), "--format", "torchscript")
    assert r.returncode == 2 and "is not an nnlab run directory" in r.stderr
