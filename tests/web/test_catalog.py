"""New model offers every task: each task's registered models, its ready configs (configs/<task>/*.yaml), and
a job for any task is queued from the form and trains through the worker."""
from __future__ import annotations

import json

import pytest
import yaml

from nnlab.errors import ConfigError
from nnlab.tasks import TASKS
from nnlab.web.catalog import catalog, default_configs, preset
from tests.contracts.test_task_contract import TINY
from tests.web.conftest import run_jobs


@pytest.fixture
def configs(tmp_path, app):
    """A configs folder with one tiny ready config per task, a tabular rl config and a broken file."""
    root = tmp_path / "configs"
    for task in ("detect", "segment", "rl"):
        (root / task).mkdir(parents=True)
        (root / task / f"tiny_{task}.yaml").write_text(yaml.safe_dump({"name": f"tiny_{task}", **TINY[task]}))
    (root / "rl" / "lake_vi.yaml").write_text(yaml.safe_dump({"task": "rl", "rl": {"algorithm": "value_iteration"}}))
    (root / "segment" / "broken.yaml").write_text("task: segment\nmodel: [")
    app.state.wb.settings.configs = root
    return root


def test_catalog_lists_every_task_with_its_registered_models_and_the_repository_configs():
    cat = catalog(default_configs())
    json.dumps(cat)  # the page embeds it
    assert set(cat["tasks"]) == set(TASKS.names())
    for name, entry in cat["tasks"].items():
        assert set(entry["models"]) == set(TASKS.get(name).models.names()), name
        assert entry["configs"] and all(key.startswith(f"{name}/") for key in entry["configs"]), name
    assert "yolo" in cat["tasks"]["detect"]["models"] and "unet" in cat["tasks"]["segment"]["models"]
    assert "obs_size" not in cat["tasks"]["rl"]["models"]["qmlp"]  # filled from the environment, not a choice
    assert "rl/frozenlake_vi.yaml" not in cat["tasks"]["rl"]["configs"]  # tabular: nnlab rl solve, not a job


def test_ready_configs_are_chosen_by_listed_name_only(configs):
    assert preset(configs, "detect/tiny_detect.yaml")["model"]["name"] == "yolo"
    for bad in ("detect/../segment/tiny_segment.yaml", "../configs/detect/tiny_detect.yaml", "rl/lake_vi.yaml",
                "segment/broken.yaml", "nosuch/x.yaml", "/etc/passwd"):
        with pytest.raises(ConfigError, match="no ready config"):
            preset(configs, bad)


def test_new_model_page_offers_each_task_its_models_and_configs(browser, configs):
    html = browser.get("/models/new").text
    assert all(f">{t}</option>" in html for t in TASKS.names())
    assert 'data-task="detect">yolo</option>' in html and 'data-task="rl">qmlp</option>' in html
    assert 'value="detect/tiny_detect.yaml" data-task="detect"' in html and "lake_vi" not in html


def test_a_ready_config_queues_a_job_of_its_task_under_the_form_settings(browser, configs):
    form = {"name": "mine", "task": "detect", "preset": "detect/tiny_detect.yaml", "model": "yolo", "optim": "adam",
            "epochs": "1", "batch_size": "8", "seed": "3", "overrides": "model.neck_width=4"}
    r = browser.post("/models/new", data=form)
    assert r.status_code == 200 and "Job 1: mine" in r.text and "task detect" in r.text
    cfg = browser.app.state.wb.store.job(1)["config"]
    assert (cfg["task"], cfg["name"], cfg["train"]["epochs"], cfg["seed"]) == ("detect", "mine", 1, 3)
    assert cfg["model"] == {**TINY["detect"]["model"], "neck_width": 4}  # the preset's options, then the form's
    assert cfg["detect"]["scenes"]["n"] == TINY["detect"]["detect"]["scenes"]["n"]


def test_a_ready_config_is_validated_like_any_job(browser, configs):
    (configs / "segment" / "outside.yaml").write_text(yaml.safe_dump(
        {**TINY["segment"], "data": {"dataset": "masks", "path": "/etc"}}))
    r = browser.post("/models/new", data={"task": "segment", "preset": "segment/outside.yaml", "model": "unet"})
    assert r.status_code == 400 and "data.path" in r.text and "outside the allowed roots" in r.text
    r = browser.post("/models/new", data={"task": "detect", "preset": "detect/tiny_detect.yaml", "model": "unet"})
    assert r.status_code == 400 and "unet" in r.text and 'value="detect/tiny_detect.yaml" data-task="detect" selected' \
        in r.text  # the form comes back as it was sent


@pytest.mark.slow
def test_a_detection_job_from_the_form_trains_through_the_worker(app, browser, configs):
    form = {"task": "detect", "preset": "detect/tiny_detect.yaml", "model": "yolo", "optim": "adam", "epochs": "1"}
    assert browser.post("/models/new", data=form).status_code == 200
    run_jobs(app, [1], timeout=180)
    job = app.state.wb.store.job(1)
    assert job["status"] == "completed", job["message"]
    html = browser.get("/jobs/1").text
    assert 'id="detect-images"' in html and 'id="detect-table"' in html


def test_lr_preview_of_a_per_step_detection_config_reads_its_data_once(browser, configs, monkeypatch):
    from nnlab.api import lr_preview
    from nnlab.tasks.detect import Detect

    form = {"task": "detect", "preset": "detect/tiny_detect.yaml", "model": "yolo", "optim": "adam", "lr": "0.01",
            "epochs": "2", "batch_size": "8", "schedule": "onecycle", "overrides": "optim.schedule.per_step=true"}
    body = browser.post("/models/lr-preview", data=form).json()
    optim = {"name": "adam", "lr": 0.01, "schedule": {"name": "onecycle", "per_step": True}}
    _, ref, steps = lr_preview({**TINY["detect"], "optim": optim})
    _, ref3, _ = lr_preview({**TINY["detect"], "optim": {**optim, "lr": 0.02},
                             "train": {**TINY["detect"]["train"], "epochs": 3}})
    assert steps > 1 and len(body["lr"]) == 2 * steps and body["lr"] == pytest.approx(ref)
    monkeypatch.setattr(Detect, "load_data", lambda *a, **k: pytest.fail("the scenes were generated again"))
    again = browser.post("/models/lr-preview", data={**form, "lr": "0.02", "epochs": "3"}).json()
    assert len(again["lr"]) == 3 * steps and again["lr"] == pytest.approx(ref3)
