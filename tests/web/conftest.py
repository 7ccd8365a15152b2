"""Workbench fixtures: an app over a temporary runs folder, an API token, a small image folder."""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Callable

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from nnlab.web.app import create_app  # noqa: E402
from nnlab.web.service import Settings  # noqa: E402
from tests.conftest import write_image_folder  # noqa: E402

FAST_JOB = {"model": {"name": "mlp", "hidden": [16]}, "optim": {"name": "sgd", "lr": 0.1},
            "train": {"epochs": 2, "batch_size": 32, "device": "cpu"}}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "data").mkdir()
    return Settings(runs=tmp_path / "runs", allowed_roots=[tmp_path / "data"], max_upload_bytes=200_000,
                    scheduler=False)


@pytest.fixture
def app(settings: Settings):
    return create_app(settings)


@pytest.fixture
def token(app) -> str:
    return app.state.wb.store.create_token("test")


@pytest.fixture
def client(app, token: str) -> TestClient:
    """A client that sends the API token with every request."""
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as c:
        yield c


class PageClient(TestClient):
    """A logged-in browser: every form post carries the session's CSRF token, as the pages' forms do."""

    csrf: str | None = None

    def post(self, url, *args, data=None, **kw):  # noqa: ANN001, ANN201
        if self.csrf is not None and (data is None or isinstance(data, dict)):
            data = {"csrf": self.csrf, **(data or {})}
        return super().post(url, *args, data=data, **kw)

    def login(self, token: str, next: str = "/jobs"):  # noqa: ANN201
        """Log in with ``token`` and pick up the CSRF token from the page's hidden form field."""
        r = self.post("/login", data={"token": token, "next": next}, follow_redirects=False)
        match = re.search(r'name="csrf" value="([0-9a-f]+)"', self.get("/jobs").text)
        self.csrf = match.group(1) if match else None
        return r


@pytest.fixture
def browser(app, token: str) -> PageClient:
    """A logged-in page client (session cookie and its CSRF token, no API token)."""
    with PageClient(app) as c:
        c.login(token)
        yield c


@pytest.fixture
def anon(app) -> TestClient:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def folder(settings: Settings) -> Path:
    return write_image_folder(settings.allowed_roots[0] / "shapes", {"dark": 12, "bright": 12}, size=(8, 8))


def wait_for(check: Callable[[], bool], timeout: float = 60, step: float = 0.1) -> None:
    """Poll ``check`` until it holds (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout}s")


def run_jobs(app, job_ids: list[int], timeout: float = 90) -> None:
    """Drive the scheduler by hand until the jobs finish."""
    sched, store = app.state.wb.scheduler, app.state.wb.store

    def done() -> bool:
        sched.tick()
        return all(store.job(j)["status"] in ("completed", "stopped_early", "failed", "aborted") for j in job_ids)

    wait_for(done, timeout, 0.2)
