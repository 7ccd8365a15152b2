"""Sessions bound to their token, logout everywhere, CSRF and Origin checks, bearer-only API writes."""
from __future__ import annotations

import contextlib

import pytest
from fastapi.testclient import TestClient

from nnlab.web.auth import COOKIE
from tests.cli.test_train_cli import main
from tests.web.conftest import FAST_JOB, PageClient


@pytest.fixture
def login(app):
    """``login(token)``: a new logged-in browser (closed after the test)."""
    with contextlib.ExitStack() as stack:
        def open_session(token: str) -> PageClient:
            c = stack.enter_context(PageClient(app))
            assert c.login(token).status_code == 303 and c.csrf
            return c

        yield open_session


def test_revoking_the_token_ends_its_sessions_at_once(app, login, token, settings):
    browser = login(token)
    assert browser.get("/jobs", follow_redirects=False).status_code == 200
    r = main("token", "revoke", "1", "--runs", str(settings.runs))
    assert r.returncode == 0 and "sessions ended" in r.stdout
    assert browser.get("/jobs", follow_redirects=False).status_code == 303  # back to the login page
    assert browser.get("/api/jobs").status_code == 401


def test_logout_everywhere_ends_every_session_of_the_token(app, login, token):
    other = app.state.wb.store.create_token("other")
    first, second, third = login(token), login(token), login(other)
    r = first.post("/logout", data={"everywhere": "1"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert second.get("/jobs", follow_redirects=False).status_code == 303
    assert third.get("/jobs", follow_redirects=False).status_code == 200  # another token's session lives
    assert login(token).get("/jobs", follow_redirects=False).status_code == 200  # logging in again works


def test_token_logout_cli_ends_sessions_and_keeps_the_token(app, login, token, settings):
    browser = login(token)
    r = main("token", "logout", "all", "--runs", str(settings.runs))
    assert r.returncode == 0 and "1 token(s)" in r.stdout
    assert browser.get("/jobs", follow_redirects=False).status_code == 303
    assert app.state.wb.store.check_token(token)
    r = main("token", "logout", "99", "--runs", str(settings.runs))
    assert r.returncode == 2 and "no token with id 99" in r.stderr


def test_cross_site_form_posts_are_refused(app, login, token, folder):
    browser = login(token)
    data = {"name": "x", "path": str(folder)}
    r = browser.post("/datasets", data={**data, "csrf": ""}, follow_redirects=False)  # no CSRF token
    assert r.status_code == 403 and "CSRF" in r.text
    r = browser.post("/datasets", data={**data, "csrf": "0" * 64}, follow_redirects=False)
    assert r.status_code == 403
    for header in ({"Origin": "http://testserver:8081"}, {"Referer": "http://evil.example/page"},
                   {"Origin": "null"}):  # another port of the same host is another site
        r = browser.post("/datasets", data=data, headers=header, follow_redirects=False)
        assert r.status_code == 403 and "another site" in r.text
    assert app.state.wb.store.datasets() == []
    r = browser.post("/datasets", data=data, headers={"Origin": "https://wb.example",
                                                      "X-Forwarded-Host": "wb.example"}, follow_redirects=False)
    assert r.status_code == 303  # the same site behind a reverse proxy, with the session's token
    r = browser.post("/datasets", data=data, headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert r.status_code == 303  # same site, with the session's token


def test_every_form_carries_the_csrf_token(app, login, token, folder):
    browser = login(token)
    ds = app.state.wb.add_folder("shapes", str(folder))
    job = app.state.wb.create_job("j", FAST_JOB, (), ds["id"])
    for page in ("/datasets", f"/datasets/{ds['id']}", "/models/new", f"/jobs/{job['id']}",
                 f"/jobs/{job['id']}/infer", f"/jobs/{job['id']}/inspect"):
        html = browser.get(page).text
        assert html.count('method="post"') == html.count(f'name="csrf" value="{browser.csrf}"') > 0, page


def test_api_writes_take_the_bearer_token_only(app, login, token):
    browser = login(token)
    r = browser.post("/api/jobs", json={"config": FAST_JOB})
    assert r.status_code == 401 and "Bearer" in r.json()["detail"]
    assert browser.get("/api/jobs").status_code == 200  # the pages' charts read through the session
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as api:
        assert api.post("/api/jobs", json={"config": FAST_JOB}).status_code == 201


def test_session_cookie_of_another_server_is_refused(app, login, token, settings, tmp_path):
    from nnlab.web.app import create_app
    from nnlab.web.service import Settings

    browser = login(token)
    other = create_app(Settings(runs=tmp_path / "other", allowed_roots=settings.allowed_roots, scheduler=False))
    other.state.wb.store.create_token("t")
    with TestClient(other, cookies={COOKIE: browser.cookies[COOKIE]}) as c:
        assert c.get("/jobs", follow_redirects=False).status_code == 303
