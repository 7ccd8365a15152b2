"""Bad job configs are refused when queued, and a bad upload's error names the upload, not the server."""
import pytest
import torch

from tests.deploy.runs import make_run
from tests.web.conftest import FAST_JOB


@pytest.mark.parametrize("train, needle", [
    ({"epochs": 10**12}, "'train.epochs' must be between 1 and"),
    ({"epochs": 1e12}, "'train.epochs' got 1000000000000.0, expected int"),
    pytest.param({"device": "cuda"}, "'train.device' is 'cuda' but this machine has no CUDA GPU",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")),
])
def test_jobs_that_could_never_run_are_refused_when_queued(client, train, needle):
    r = client.post("/api/jobs", json={"config": {**FAST_JOB, "train": {**FAST_JOB["train"], **train}}})
    assert r.status_code == 400 and needle in r.json()["detail"], r.text
    assert client.get("/api/jobs").json() == []


def test_undecodable_upload_is_named_by_its_file_name(client, app, tmp_path):
    run = make_run(tmp_path / "trained", "mlp")
    store = app.state.wb.store
    job_id = store.add_job("mlp", FAST_JOB, None)
    store.update_job(job_id, status="completed", run_dir=str(run))
    files = [("files", ("holiday.png", b"\x89PNG not an image", "image/png"))]
    r = client.post(f"/api/jobs/{job_id}/classify", files=files)
    detail = r.json()["detail"]
    assert r.status_code == 400 and "cannot decode image holiday.png" in detail, detail
    assert "upload-0" not in detail and "/tmp" not in detail and str(tmp_path) not in detail
