"""The REST API and pages against hostile inputs: code-running checkpoints, paths out of the roots,
symlinked class folders, decompression bombs."""
from __future__ import annotations

import pytest
import torch

import nnlab
from nnlab import config as cfgmod
from tests.conftest import huge_png, malicious_checkpoint, write_image_folder
from tests.web.conftest import FAST_JOB, PageClient, run_jobs
from tests.web.test_routes_api import _zip


@pytest.mark.slow  # a real worker process
def test_malicious_checkpoint_uploaded_in_a_dataset_zip_never_runs(client, app, folder, tmp_path):
    marker = tmp_path / "pwned"
    entries = {f"shapes/{p.relative_to(folder)}": p.read_bytes() for p in folder.rglob("*.png")}
    entries["shapes/evil.pt"] = malicious_checkpoint(tmp_path / "evil.pt", marker).read_bytes()
    ds = client.post("/api/datasets/upload", files={"file": ("d.zip", _zip(entries))}).json()
    config = {**FAST_JOB, "model": {**FAST_JOB["model"], "weights": f"{ds['path']}/evil.pt"}}
    job = client.post("/api/jobs", json={"dataset_id": ds["id"], "config": config})
    assert job.status_code == 201, job.text
    run_jobs(app, [job.json()["id"]])
    done = client.get(f"/api/jobs/{job.json()['id']}").json()
    assert done["status"] == "failed" and "refuses to load" in done["message"]
    assert not marker.exists()


@pytest.mark.parametrize("where", ["/etc/passwd", "outside", "link", "{root}/../outside/run.pt"])
def test_model_weights_must_stay_inside_the_roots(client, settings, tmp_path, where):
    outside = tmp_path / "outside"
    outside.mkdir()
    torch.save({"model": {"secret_layer.weight": torch.ones(2)}}, outside / "run.pt")
    (settings.allowed_roots[0] / "link").symlink_to(outside / "run.pt")  # a link inside a root, out of it
    path = {"outside": str(outside / "run.pt"), "link": str(settings.allowed_roots[0] / "link")}.get(where, where)
    config = {**FAST_JOB, "model": {**FAST_JOB["model"], "weights": path.format(root=settings.allowed_roots[0])}}
    r = client.post("/api/jobs", json={"config": config})
    assert r.status_code == 403 and r.json()["detail"].startswith("model.weights: path")
    assert "outside the allowed roots" in r.json()["detail"] and "secret_layer" not in r.text
    r = client.post("/api/jobs", json={"config": FAST_JOB, "overrides": [f"model.weights={path}"]})
    assert r.status_code == 403 and client.get("/api/jobs").json() == []


def test_weights_inside_the_roots_are_accepted(client, settings):
    torch.save({"w": torch.ones(1)}, settings.allowed_roots[0] / "w.pt")
    config = {**FAST_JOB, "model": {**FAST_JOB["model"], "weights": str(settings.allowed_roots[0] / "w.pt")}}
    assert client.post("/api/jobs", json={"config": config}).status_code == 201


def test_symlinked_class_folder_out_of_the_root_is_refused_and_not_listed(client, settings, folder, tmp_path):
    outside = write_image_folder(tmp_path / "private", {"topsecret": 2}, size=(8, 8))
    r = client.post("/api/datasets", json={"path": str(folder)})
    assert r.status_code == 201
    (folder / "stolen").symlink_to(outside / "topsecret", target_is_directory=True)
    for r in (client.post("/api/datasets", json={"path": str(folder)}),
              client.get(f"/api/datasets/{r.json()['id']}")):  # a link added after the dataset was made
        assert r.status_code == 400 and "stolen is a link to outside the folder" in r.json()["detail"]
        assert "topsecret" not in r.text and "private" not in r.text


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    cfg = {"model": {"name": "mlp", "hidden": [4]}, "train": {"epochs": 1, "device": "cpu"},
           "data": {"train_size": 100}}
    return nnlab.fit(cfg, runs_root=tmp_path_factory.mktemp("runs"), progress=False)


@pytest.fixture
def trained_job(app, trained_run) -> int:
    """A completed job over a tiny in-process digits run (no worker process)."""
    run, store = trained_run, app.state.wb.store
    job_id = store.add_job("j", cfgmod.to_dict(run.config), None)
    store.update_job(job_id, status="completed", run_dir=str(run.dir))
    return job_id


def test_decompression_bombs_get_413_on_every_upload_path(app, client, token, trained_job, tmp_path):
    bomb = huge_png(tmp_path / "bomb.png", 30000, 30000).read_bytes()
    file = {"file": ("bomb.png", bomb, "image/png")}
    r = client.post(f"/api/jobs/{trained_job}/classify", files={"files": ("bomb.png", bomb, "image/png")})
    assert r.status_code == 413 and "900.0 megapixels" in r.json()["detail"]
    assert client.post(f"/api/jobs/{trained_job}/inspect", files=file).status_code == 413
    with PageClient(app) as browser:
        browser.login(token)
        for page in ("infer/image", "inspect"):
            r = browser.post(f"/jobs/{trained_job}/{page}", files=file)
            assert r.status_code == 413 and "megapixels" in r.text, page


def test_classify_folder_refuses_images_linked_out_of_it(client, settings, trained_job, tmp_path):
    outside = write_image_folder(tmp_path / "private", {"topsecret": 1}, size=(8, 8))
    probe = settings.allowed_roots[0] / "probe"
    probe.mkdir()
    (probe / "x.png").symlink_to(next((outside / "topsecret").glob("*.png")))
    r = client.post(f"/api/jobs/{trained_job}/classify-folder", json={"path": str(probe)})
    assert r.status_code == 400 and "x.png is a link to outside" in r.json()["detail"] and "topsecret" not in r.text
