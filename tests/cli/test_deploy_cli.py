"""nnlab deploy: the app it serves (in-process) and, once, a real server on a loopback port."""
import socket
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from nnlab.deploy.export import export_run
from tests.cli.test_train_cli import main
from tests.conftest import ROOT
from tests.deploy.runs import image_files, make_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("deploy_cli"), "mlp")


def test_deploy_serves_the_options_given(run_dir, monkeypatch):
    import uvicorn

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    r = main("deploy", str(run_dir), "--port", "8123", "--backend", "torch", "--max-batch", "4", "--no-batching")
    assert r.returncode == 0, r.stderr
    assert "micro-batching off" in r.stdout and "http://127.0.0.1:8123" in r.stdout
    assert served["port"] == 8123 and served["host"] == "127.0.0.1"
    with TestClient(served["app"]) as client:
        health = client.get("/health").json()
    assert health["backend"] == "torch" and health["batching"]["enabled"] is False


def test_deploy_refuses_bad_targets(tmp_path):
    r = main("deploy", str(tmp_path / "missing.onnx"), "--port", "8124")
    assert r.returncode == 2 and "neither a run directory nor a model file" in r.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_real_server_on_loopback(run_dir, tmp_path):
    model = export_run(run_dir, "onnx", tmp_path / "m.onnx", dynamic_batch=True).path
    image = image_files(tmp_path, 1)[0]
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "nnlab", "deploy", str(model), "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.time() < deadline, proc.stderr.read() if proc.poll() else "slow"
                time.sleep(0.2)
        assert health["status"] == "ok" and health["backend"] == "onnx"
        reply = httpx.post(f"http://127.0.0.1:{port}/predict", files={"file": (image.name, image.read_bytes())})
        assert reply.status_code == 200 and len(reply.json()["predictions"][0]["top"]) == 5
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_deploy_token_file(run_dir, tmp_path, monkeypatch):
    import uvicorn

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    (tmp_path / "tok").write_text("abcdefghijklmnop-0123\n")
    r = main("deploy", str(run_dir), "--token-file", str(tmp_path / "tok"))
    assert r.returncode == 0, r.stderr
    assert "bearer token required" in r.stdout
    with TestClient(served["app"]) as client:
        assert client.get("/health").status_code == 401
        assert client.get("/health", headers={"Authorization": "Bearer abcdefghijklmnop-0123"}).status_code == 200
    (tmp_path / "short").write_text("abc\n")
    for bad in ("short", "missing"):
        r = main("deploy", str(run_dir), "--token-file", str(tmp_path / bad))
        assert r.returncode == 2 and "--token-file" in r.stderr and "Traceback" not in r.stderr


def test_deploy_without_token_off_loopback_warns(run_dir, monkeypatch):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    r = main("deploy", str(run_dir), "--host", "0.0.0.0")
    assert r.returncode == 0 and "without --token-file" in r.stderr
