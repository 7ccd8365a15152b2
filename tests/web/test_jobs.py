"""Worker processes end to end: train, infer, abort/resume, and a killed worker across a server restart."""
from __future__ import annotations

import os
import signal

import pytest

from nnlab.web.app import create_app
from nnlab.web.jobs import log_path
from tests.web.conftest import FAST_JOB, run_jobs, wait_for

slow = pytest.mark.slow
# jobs that must still be running when the test acts on them: enough steps that a 0.1 s poll cannot miss the window
LONG = {"epochs": 60, "batch_size": 1}


def _job(client, folder, epochs: int = 2, **train) -> int:
    ds = client.post("/api/datasets", json={"path": str(folder)}).json()
    config = {**FAST_JOB, "train": {**FAST_JOB["train"], "epochs": epochs, **train}}
    return client.post("/api/jobs", json={"dataset_id": ds["id"], "config": config}).json()["id"]


def _running_with_epochs(app, job_id: int, epochs: int) -> None:
    store, sched = app.state.wb.store, app.state.wb.scheduler

    def ready() -> bool:
        sched.tick()
        return store.job(job_id)["status"] == "running" and len(store.metrics(job_id)) >= epochs
    wait_for(ready, 90, 0.1)


@slow
def test_train_then_classify_download_and_inspect(client, app, folder):
    job_id = _job(client, folder)
    run_jobs(app, [job_id])
    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["status"] == "completed", job["message"]
    assert [m["epoch"] for m in job["metrics"]] == [1, 2] and job["best_epoch"] in (1, 2)
    assert "epoch 2:" in job["log"] and job["eta_s"] is None
    events = client.get(f"/api/jobs/{job_id}/events").text
    assert events.count("event: metrics") == 2 and "completed" in events

    one = client.post(f"/api/jobs/{job_id}/classify", data={"topk": "2"},
                      files=[("files", ("a.png", (folder / "dark" / "0.png").read_bytes(), "image/png")),
                             ("files", ("b.png", (folder / "bright" / "0.png").read_bytes(), "image/png"))]).json()
    assert "predictions" in one, one
    assert [r["image"] for r in one["predictions"]] == ["a.png", "b.png"] and "accuracy" not in one
    assert all(len(r["top"]) == 2 and abs(sum(t["prob"] for t in r["top"]) - 1) < 1e-4 for r in one["predictions"])
    image = ("files", ("a.png", (folder / "dark" / "0.png").read_bytes(), "image/png"))
    labelled = client.post(f"/api/jobs/{job_id}/classify", data={"labels": ["dark"]}, files=[image]).json()
    assert labelled["accuracy"] == float(labelled["predictions"][0]["top"][0]["class"] == "dark")
    assert sum(map(sum, labelled["confusion"])) == 1
    bad = client.post(f"/api/jobs/{job_id}/classify", data={"labels": ["dark", "dark"]}, files=[image])
    assert bad.status_code == 400 and "2 labels for 1 images" in bad.json()["detail"]
    many = client.post(f"/api/jobs/{job_id}/classify-folder", json={"path": str(folder)}).json()
    assert many["count"] == 24 and sum(map(sum, many["confusion"])) == 24
    truth = [p["image"].split("/")[-2] for p in many["predictions"]]
    hits = sum(t == p["top"][0]["class"] for t, p in zip(truth, many["predictions"]))
    assert many["accuracy"] == pytest.approx(hits / 24)
    assert client.post(f"/api/jobs/{job_id}/classify-folder", json={"path": "/etc"}).status_code == 403

    model = client.get(f"/api/jobs/{job_id}/model")
    assert model.status_code == 200 and len(model.content) > 1000
    exported = client.post(f"/api/jobs/{job_id}/export", params={"format": "onnx", "dynamic_batch": "true"})
    assert exported.status_code == 200 and float(exported.headers["x-max-abs-diff"]) < 1e-4
    from nnlab.deploy import Predictor
    onnx_file = folder.parent / "exported.onnx"
    onnx_file.write_bytes(exported.content)
    top = Predictor.open(onnx_file).predict_files([folder / "dark" / "0.png"], 1)[0]["top"][0]["class"]
    assert top == one["predictions"][0]["top"][0]["class"]  # the download serves what the job predicts
    assert client.post(f"/api/jobs/{job_id}/export", params={"format": "tflite"}).status_code == 422
    layers = client.post(f"/api/jobs/{job_id}/inspect",
                         files={"file": ("a.png", (folder / "dark" / "1.png").read_bytes())}).json()["layers"]
    assert [layer["type"] for layer in layers][-1] == "Linear" and "weight" in layers[-1]
    page = client.post(f"/jobs/{job_id}/inspect", files={"file": ("a.png", (folder / "dark" / "1.png").read_bytes())})
    assert page.status_code == 200 and 'id="layers"' in page.text and "features.0" in page.text


@slow
def test_abort_then_resume_continues_the_same_run(client, app, folder):
    job_id = _job(client, folder, **LONG)
    _running_with_epochs(app, job_id, 2)
    assert client.post(f"/api/jobs/{job_id}/abort").status_code == 200
    run_jobs(app, [job_id])
    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["status"] == "aborted" and job["run_dir"]
    done = len(job["metrics"])
    assert client.post(f"/api/jobs/{job_id}/resume").json()["status"] == "queued"
    run_jobs(app, [job_id])
    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["status"] == "completed", job["message"]
    assert [m["epoch"] for m in job["metrics"]] == list(range(1, LONG["epochs"] + 1)) and done < LONG["epochs"]
    assert "resuming" in log_path(app.state.wb.settings.runs, job_id).read_text()


@slow
def test_killed_worker_is_marked_after_restart_and_resumes(settings, client, app, folder):
    job_id = _job(client, folder, **LONG)
    _running_with_epochs(app, job_id, 3)
    proc = app.state.wb.scheduler.procs[job_id]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)  # the old server crashes too: it never sees the worker die

    restarted = create_app(settings)  # a new server over the same database
    restarted.state.wb.scheduler.recover()
    job = restarted.state.wb.store.job(job_id)
    assert job["status"] == "failed" and "resume it" in job["message"] and "epoch 3:" in job["message"]
    before = len(restarted.state.wb.store.metrics(job_id))
    restarted.state.wb.resume(job_id)
    run_jobs(restarted, [job_id])
    job = restarted.state.wb.store.job(job_id)
    assert job["status"] == "completed", job["message"]
    epochs = [m["epoch"] for m in restarted.state.wb.store.metrics(job_id)]
    assert epochs == list(range(1, LONG["epochs"] + 1)) and before < LONG["epochs"]


@slow
def test_watchdog_marks_a_dead_worker_failed_with_its_log(client, app, folder):
    job_id = _job(client, folder, **LONG)
    _running_with_epochs(app, job_id, 1)
    os.kill(app.state.wb.scheduler.procs[job_id].pid, signal.SIGKILL)
    wait_for(lambda: app.state.wb.scheduler.tick() or app.state.wb.store.job(job_id)["status"] == "failed", 30)
    assert "exited with code -9" in app.state.wb.store.job(job_id)["message"]
    assert "epoch 1:" in app.state.wb.store.job(job_id)["message"]


@slow
def test_queue_runs_jobs_one_at_a_time_and_restart_keeps_the_queue(settings, client, app, folder):
    first, second = _job(client, folder, epochs=1), _job(client, folder, epochs=1)
    store = app.state.wb.store
    app.state.wb.scheduler.tick()
    assert store.job(first)["status"] == "running" and store.job(second)["status"] == "queued"
    restarted = create_app(settings)
    restarted.state.wb.scheduler.recover()
    assert store.job(second)["status"] == "queued"  # nothing lost
    run_jobs(app, [first])
    run_jobs(restarted, [second])
    assert store.job(second)["status"] == "completed"


def test_dead_jobs_are_marked_failed_or_aborted_without_their_worker(client, app, settings):
    """The watchdog alone (no worker ever ran): a running job with a dead pid fails, a stopping one is aborted."""
    store = app.state.wb.store
    running, stopping = (client.post("/api/jobs", json={"config": {}}).json()["id"] for _ in range(2))
    app.state.wb.scheduler.concurrency = 0  # start nothing
    store.update_job(running, status="running", pid=None)
    store.update_job(stopping, status="aborting", pid=None)
    app.state.wb.scheduler.tick()
    assert store.job(running)["status"] == "failed" and "resume it" in store.job(running)["message"]
    assert store.job(stopping)["status"] == "aborted"
    assert client.post(f"/api/jobs/{running}/resume").json()["status"] == "queued"
