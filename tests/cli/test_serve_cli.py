"""nnlab serve and nnlab token: tokens stored hashed, a real server process on loopback."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from nnlab.cli.main import main
from tests.conftest import ROOT

pytest.importorskip("fastapi", reason="the web extra is not installed")


def test_token_create_list_revoke(tmp_path, capsys):
    runs = str(tmp_path / "runs")
    assert main(["token", "create", "alice", "--runs", runs]) == 0
    token = capsys.readouterr().out.splitlines()[0]
    assert token.startswith("nnl_")
    db = (tmp_path / "runs" / "web" / "workbench.db").read_bytes()
    assert token.encode() not in db  # only the hash is kept
    assert main(["token", "list", "--runs", runs]) == 0
    assert "alice" in capsys.readouterr().out and token not in capsys.readouterr().out
    assert main(["token", "revoke", "1", "--runs", runs]) == 0
    assert main(["token", "revoke", "1", "--runs", runs]) == 2
    assert "no token with id 1" in capsys.readouterr().err
    assert main(["token", "revoke", "x", "--runs", runs]) == 2


def test_token_with_a_database_url(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'other.db'}"
    assert main(["token", "create", "bob", "--db", url]) == 0
    assert (tmp_path / "other.db").is_file()


def test_serve_rejects_bad_options(tmp_path, capsys):
    assert main(["serve", "--runs", str(tmp_path), "--workers", "0"]) == 2
    assert main(["serve", "--runs", str(tmp_path), "--allow-root", str(tmp_path / "nope")]) == 2
    assert "is not a folder" in capsys.readouterr().err


@pytest.mark.slow
def test_serve_answers_on_loopback(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "nnlab", "serve", "--port", str(port), "--runs",
                             str(tmp_path / "runs")], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline, status = time.monotonic() + 60, None
        while time.monotonic() < deadline and status is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/api/jobs", timeout=2).status_code
            except httpx.TransportError:
                time.sleep(0.2)
        assert status == 401  # up, and closed to anonymous readers
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).json()["info"]["title"]
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0]
    assert "nnlab token create" in out
