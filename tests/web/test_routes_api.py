"""REST API: every endpoint, auth refusals, oversized uploads, path and zip escapes, unknown ids."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from tests.web.conftest import FAST_JOB

WRITES = [("post", "/api/datasets"), ("post", "/api/datasets/upload"), ("delete", "/api/datasets/1"),
          ("post", "/api/jobs"), ("post", "/api/jobs/1/abort"), ("post", "/api/jobs/1/resume"),
          ("post", "/api/jobs/1/clone"), ("delete", "/api/jobs/1"), ("post", "/api/jobs/1/classify"),
          ("post", "/api/jobs/1/classify-folder"), ("post", "/api/jobs/1/inspect")]
READS = ["/api/catalog", "/api/datasets", "/api/datasets/1", "/api/jobs", "/api/jobs/1", "/api/jobs/1/metrics",
         "/api/jobs/1/events", "/api/jobs/1/model", "/api/datasets/1/image?path=a.png"]


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


@pytest.mark.parametrize("method,path", WRITES)
def test_writes_need_a_token(anon, method, path):
    assert getattr(anon, method)(path).status_code == 401
    assert getattr(anon, method)(path, headers={"Authorization": "Bearer wrong"}).status_code == 401


@pytest.mark.parametrize("path", READS)
def test_reads_need_a_token_unless_anonymous_read(anon, app, path):
    assert anon.get(path).status_code == 401
    app.state.wb.settings.anonymous_read = True
    assert anon.get(path).status_code != 401
    assert anon.post("/api/jobs", json={}).status_code == 401  # still read-only


def test_revoked_token_is_refused(client, app, token):
    store = app.state.wb.store
    assert client.get("/api/jobs").status_code == 200
    store.revoke_token(store.tokens()[0]["id"])
    assert client.get("/api/jobs").status_code == 401


def test_catalog_lists_every_registered_model_and_optimizer(client):
    from nnlab.models import MODELS
    from nnlab.optim import OPTIMIZERS

    cat = client.get("/api/catalog").json()
    assert sorted(cat["models"]) == sorted(MODELS.names())
    assert sorted(cat["optimizers"]) == sorted(OPTIMIZERS)


def test_lr_preview_is_the_schedule_the_run_would_follow(client):
    from nnlab.optim import SCHEDULES, lr_curve

    assert sorted(client.get("/api/catalog").json()["schedules"]) == sorted(SCHEDULES)
    config = {"optim": {"name": "sgd", "lr": 0.2, "schedule": {"name": "step", "gamma": 0.5, "stepsize": 2}},
              "train": {"epochs": 7}}
    body = client.post("/api/lr-preview", json={"config": config}).json()
    assert body["lr"] == pytest.approx(lr_curve("step", 0.2, 7, 1, gamma=0.5, stepsize=2))
    assert body["epoch"] == list(range(7))
    long = client.post("/api/lr-preview", json={"config": config, "overrides": ["train.epochs=5000"]}).json()
    assert len(long["lr"]) <= 400 and long["epoch"][-1] < 5000
    bad = client.post("/api/lr-preview", json={"config": config, "overrides": ["optim.schedule.name=nope"]})
    assert bad.status_code == 400 and "unknown schedule 'nope'" in bad.json()["detail"]


def test_dataset_from_folder_counts_and_gallery(client, folder):
    r = client.post("/api/datasets", json={"name": "shapes", "path": str(folder)})
    assert r.status_code == 201
    ds = r.json()
    assert ds["classes"] == {"train": {"bright": 12, "dark": 12}}
    shown = client.get(f"/api/datasets/{ds['id']}").json()
    assert len(shown["samples"]["dark"]) == 4
    img = client.get(f"/api/datasets/{ds['id']}/image", params={"path": shown["samples"]["dark"][0]})
    assert img.status_code == 200 and img.content[:4] == b"\x89PNG"
    assert [d["id"] for d in client.get("/api/datasets").json()] == [ds["id"]]
    assert client.delete(f"/api/datasets/{ds['id']}").status_code == 204
    assert client.get(f"/api/datasets/{ds['id']}").status_code == 404
    assert folder.is_dir()  # a server folder is only forgotten, never deleted


@pytest.mark.parametrize("path", ["{root}/../..", "/etc", "{root}/shapes/../../outside", "relative/../../x"])
def test_dataset_paths_are_confined_to_allowed_roots(client, folder, settings, path):
    r = client.post("/api/datasets", json={"path": path.format(root=settings.allowed_roots[0])})
    assert r.status_code == 403 and "outside the allowed roots" in r.json()["detail"]


def test_symlink_out_of_the_root_is_refused(client, settings, tmp_path):
    (settings.allowed_roots[0] / "link").symlink_to(tmp_path)
    assert client.post("/api/datasets", json={"path": str(settings.allowed_roots[0] / "link")}).status_code == 403


def test_gallery_image_path_cannot_escape_the_dataset(client, folder):
    ds = client.post("/api/datasets", json={"path": str(folder)}).json()
    for bad in ["../../../../etc/passwd", "/etc/passwd", "dark/../../shapes/dark/0.png/.."]:
        assert client.get(f"/api/datasets/{ds['id']}/image", params={"path": bad}).status_code in (403, 404)


def test_dataset_folder_errors_are_readable(client, settings):
    (settings.allowed_roots[0] / "empty").mkdir()
    r = client.post("/api/datasets", json={"path": str(settings.allowed_roots[0] / "empty")})
    assert r.status_code == 400 and "no class subfolders" in r.json()["detail"]


def test_zip_upload_creates_a_dataset_and_delete_removes_it(client, folder, settings):
    entries = {f"shapes/{p.relative_to(folder)}": p.read_bytes() for p in folder.rglob("*.png")}
    r = client.post("/api/datasets/upload", files={"file": ("d.zip", _zip(entries))}, data={"name": "up"})
    assert r.status_code == 201, r.text
    ds = r.json()
    assert ds["source"] == "upload" and ds["classes"]["train"] == {"bright": 12, "dark": 12}
    assert Path(ds["path"]).is_relative_to(settings.uploads)
    client.delete(f"/api/datasets/{ds['id']}")
    assert not Path(ds["path"]).exists()


@pytest.mark.parametrize("name", ["../evil/a/x.png", "/abs/a/x.png", "ok/../../evil.png"])
def test_zip_slip_is_refused(client, settings, name):
    r = client.post("/api/datasets/upload", files={"file": ("d.zip", _zip({name: b"x", "c/a.png": b"y"}))})
    assert r.status_code == 403 and "outside the dataset folder" in r.json()["detail"]
    assert not (settings.runs / "web" / "evil").exists() and not list(settings.uploads.glob("ds-*"))


def test_oversized_uploads_are_refused(client, settings):
    big = b"\0" * (settings.max_upload_bytes + 10)
    r = client.post("/api/datasets/upload", files={"file": ("d.zip", big)})
    assert r.status_code == 413
    bomb = _zip({"c/a.png": b"\0" * (settings.max_upload_bytes + 10)})  # small zip, big contents
    assert len(bomb) < settings.max_upload_bytes
    r = client.post("/api/datasets/upload", files={"file": ("d.zip", bomb)})
    assert r.status_code == 400 and "limit" in r.json()["detail"]
    huge = client.post("/api/datasets/upload", content=b"x", headers={"content-length": str(10**10)})
    assert huge.status_code == 413


def test_not_a_zip_is_a_clear_error(client):
    r = client.post("/api/datasets/upload", files={"file": ("d.zip", b"hello")})
    assert r.status_code == 400 and "not a zip" in r.json()["detail"]


@pytest.mark.parametrize("method,path", [("get", "/api/datasets/99"), ("delete", "/api/datasets/99"),
                                         ("get", "/api/jobs/99"), ("post", "/api/jobs/99/abort"),
                                         ("post", "/api/jobs/99/resume"), ("delete", "/api/jobs/99"),
                                         ("get", "/api/jobs/99/metrics"), ("get", "/api/jobs/99/events"),
                                         ("get", "/api/jobs/99/model"), ("get", "/api/datasets/99/image?path=a")])
def test_unknown_ids_are_404(client, method, path):
    r = getattr(client, method)(path)
    assert r.status_code == 404 and "99" in r.json()["detail"]


def test_unknown_ids_in_bodies_are_404(client):
    assert client.post("/api/jobs", json={"dataset_id": 42, "config": FAST_JOB}).status_code == 404
    assert client.post("/api/jobs/42/clone", json={}).status_code == 404


def test_create_job_validates_before_queueing(client):
    bad = client.post("/api/jobs", json={"config": {**FAST_JOB, "model": {"name": "nope"}}})
    assert bad.status_code == 400 and "nope" in bad.json()["detail"]
    bad = client.post("/api/jobs", json={"config": FAST_JOB, "overrides": ["train.epochs=0"]})
    assert bad.status_code == 400 and "train.epochs" in bad.json()["detail"]
    assert client.get("/api/jobs").json() == []


def test_job_config_cannot_reach_outside_the_roots(client):
    r = client.post("/api/jobs", json={"config": {**FAST_JOB, "data": {"dataset": "folder", "path": "/etc"}}})
    assert r.status_code == 403
    r = client.post("/api/jobs", json={"name": "../../escape", "config": FAST_JOB})
    assert r.status_code == 400 and "job name" in r.json()["detail"]


def test_job_lifecycle_without_training(client, folder):
    ds = client.post("/api/datasets", json={"path": str(folder)}).json()
    job = client.post("/api/jobs", json={"name": "j", "dataset_id": ds["id"], "config": FAST_JOB}).json()
    assert job["status"] == "queued" and job["config"]["data"]["path"] == str(folder)
    assert client.post(f"/api/jobs/{job['id']}/resume").status_code == 409  # queued: nothing to resume
    assert client.post(f"/api/jobs/{job['id']}/abort").json()["status"] == "aborted"
    assert client.post(f"/api/jobs/{job['id']}/abort").status_code == 409
    clone = client.post(f"/api/jobs/{job['id']}/clone", json={"overrides": ["train.epochs=3"]})
    assert clone.status_code == 201 and clone.json()["config"]["train"]["epochs"] == 3
    assert client.get(f"/api/jobs/{job['id']}/metrics").json() == []
    assert client.get(f"/api/jobs/{job['id']}/model").status_code == 409
    assert client.post(f"/api/jobs/{job['id']}/classify-folder", json={"path": str(folder)}).status_code == 409
    events = client.get(f"/api/jobs/{job['id']}/events").text
    assert "event: status" in events and "aborted" in events
    assert client.delete(f"/api/jobs/{job['id']}").status_code == 204
    assert [j["id"] for j in client.get("/api/jobs").json()] == [clone.json()["id"]]


def test_running_job_cannot_be_deleted(client, app):
    job = client.post("/api/jobs", json={"config": FAST_JOB}).json()
    app.state.wb.store.update_job(job["id"], status="running", pid=None)
    assert client.delete(f"/api/jobs/{job['id']}").status_code == 409


def test_openapi_schema_lists_the_api(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/jobs", "/api/jobs/{job_id}/events", "/api/datasets/upload",
            "/api/jobs/{job_id}/classify"} <= set(paths)
    assert not any(p.startswith("/jobs") for p in paths)  # pages stay out of the API schema
