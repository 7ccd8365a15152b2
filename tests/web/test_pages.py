"""Server-rendered pages: login, redirects, forms that create datasets and jobs, error pages."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from nnlab.models import MODELS
from nnlab.optim import OPTIMIZERS
from nnlab.web.auth import COOKIE
from tests.web.conftest import PageClient

PAGES = ["/jobs", "/datasets", "/models/new", "/compare"]


@pytest.fixture
def browser(app, token) -> TestClient:
    """A logged-in page client (session cookie, no API token)."""
    with PageClient(app) as c:
        r = c.login(token, "/datasets")
        assert r.status_code == 303 and r.headers["location"] == "/datasets" and COOKIE in r.cookies
        assert c.csrf
        yield c


@pytest.mark.parametrize("path", PAGES)
def test_pages_redirect_to_login(anon, path):
    r = anon.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_wrong_token_does_not_log_in(anon):
    r = anon.post("/login", data={"token": "nope"}, follow_redirects=False)
    assert r.status_code == 401 and "unknown token" in r.text and COOKIE not in r.cookies


def test_login_next_cannot_leave_the_site(anon, token):
    r = anon.post("/login", data={"token": token, "next": "//evil.example"}, follow_redirects=False)
    assert r.headers["location"] == "/jobs"


def test_forged_session_cookie_is_refused(app):
    with TestClient(app, cookies={COOKIE: "9999999999.deadbeef"}) as c:
        assert c.get("/jobs", follow_redirects=False).status_code == 303


def test_anonymous_read_shows_pages_but_not_forms(app, anon):
    app.state.wb.settings.anonymous_read = True
    assert anon.get("/jobs").status_code == 200
    assert anon.get("/models/new", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("path", PAGES)
def test_pages_render(browser, path):
    r = browser.get(path)
    assert r.status_code == 200 and "nnlab workbench" in r.text


def test_new_model_page_offers_every_registered_network_and_optimizer(browser):
    html = browser.get("/models/new").text
    assert all(f">{m}</option>" in html for m in MODELS.names())
    assert all(f">{o}</option>" in html for o in OPTIMIZERS)


def test_dataset_form_then_gallery_then_new_model(browser, folder):
    r = browser.post("/datasets", data={"name": "shapes", "path": str(folder)})
    assert r.status_code == 200 and "Dataset shapes" in r.text and "/api/datasets/1/image?path=dark" in r.text
    r = browser.post("/models/new", data={"name": "m", "dataset_id": "1", "model": "mlp", "optim": "adam",
                                          "lr": "0.01", "batch_size": "16", "epochs": "3", "patience": "2",
                                          "seed": "5", "overrides": "model.hidden=[8]\ntrain.device=cpu"})
    assert r.status_code == 200 and "Job 1: m" in r.text and "queued" in r.text
    job = browser.app.state.wb.store.job(1)
    cfg = job["config"]
    assert (cfg["optim"]["name"], cfg["optim"]["lr"], cfg["train"]["epochs"], cfg["seed"]) == ("adam", 0.01, 3, 5)
    assert cfg["train"]["early_stopping"]["patience"] == 2 and cfg["model"]["hidden"] == [8]
    r = browser.post("/jobs/1/clone", follow_redirects=True)
    assert "edit of job 1" in r.text
    r = browser.post("/jobs/1/abort")
    assert "aborted" in r.text


def test_new_model_form_errors_are_shown(browser):
    r = browser.post("/models/new", data={"model": "mlp", "optim": "sgd", "batch_size": "16", "epochs": "0",
                                          "seed": "0"})
    assert r.status_code == 400 and "train.epochs" in r.text


def test_bad_folder_shows_an_error_page(browser):
    r = browser.post("/datasets", data={"path": "/etc"})
    assert r.status_code == 403 and "outside the allowed roots" in r.text
    assert browser.get("/jobs/77").status_code == 404


def test_new_model_lr_preview_follows_the_form(browser):
    form = {"model": "mlp", "optim": "sgd", "lr": "0.1", "schedule": "exp", "epochs": "4", "batch_size": "16",
            "seed": "0", "overrides": "optim.schedule.gamma=0.5"}
    body = browser.post("/models/lr-preview", data=form).json()
    assert body["schedule"] == "exp" and body["lr"] == pytest.approx([0.1, 0.05, 0.025, 0.0125])
    bad = browser.post("/models/lr-preview", data={**form, "epochs": "0"})
    assert bad.status_code == 400 and "train.epochs" in bad.json()["detail"]
