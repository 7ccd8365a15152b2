"""The inference server's endpoints, limits and dynamic micro-batching."""
import asyncio

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from nnlab.deploy import Predictor
from nnlab.deploy.server import create_app


@pytest.fixture(scope="module")
def predictor(mlp_run):
    return Predictor.open(mlp_run)  # ONNX Runtime, dynamic batch


def _files(paths):
    return [("files", (p.name, p.read_bytes(), "image/png")) for p in paths]


def test_health(predictor):
    with TestClient(create_app(predictor, max_batch=4)) as client:
        body = client.get("/health").json()
        schema = client.get("/openapi.json").json()
    assert "multipart/form-data" in schema["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert body["status"] == "ok" and body["backend"] == "onnx" and body["num_classes"] == 10
    assert body["input"] == [1, 8, 8] and body["batching"] == {"enabled": True, "max_batch": 4, "max_wait_ms": 5.0}


@pytest.mark.parametrize("batching", [True, False])
def test_predict_single_and_batch(predictor, images, batching):
    want = predictor.predict_files(images, 3)
    with TestClient(create_app(predictor, batching=batching)) as client:
        one = client.post("/predict?top=3", files={"file": (images[0].name, images[0].read_bytes())})
        many = client.post("/predict?top=3", files=_files(images))
    assert one.status_code == 200 and many.status_code == 200
    assert one.json()["predictions"][0]["file"] == images[0].name
    got = many.json()["predictions"]
    assert [g["file"] for g in got] == [p.name for p in images]  # answered in upload order
    for g, w in zip([one.json()["predictions"][0]] + got, want[:1] + want):
        assert [t["class"] for t in g["top"]] == [t["class"] for t in w["top"]]
        np.testing.assert_allclose([t["prob"] for t in g["top"]], [t["prob"] for t in w["top"]], atol=1e-6)


def test_bad_requests(predictor, images):
    with TestClient(create_app(predictor, max_image_bytes=2000, max_files=3)) as client:
        bad = client.post("/predict", files={"file": ("cat.jpg", b"definitely not a jpeg")})
        assert bad.status_code == 400 and "cannot decode image cat.jpg" in bad.json()["detail"]
        big = client.post("/predict", files={"file": ("big.png", b"\0" * 2001)})
        assert big.status_code == 413 and "upload limit" in big.json()["detail"]
        huge = client.post("/predict", content=b"\0" * 100_000, headers={"content-type": "multipart/form-data; b=x"})
        assert huge.status_code == 413
        too_many = client.post("/predict", files=_files(images[:4]))
        assert too_many.status_code == 413
        assert client.post("/predict", data={"note": "x"}).status_code == 400  # a form without a file
        assert client.post("/predict", content=b"{}", headers={"content-type": "application/json"}).status_code == 400
        assert client.post("/predict?top=0", files=_files(images[:1])).status_code == 422
        assert client.get("/health").json()["stats"]["model_calls"] == 0  # nothing bad reached the model


def _concurrent(app, images, n):
    """``n`` single-image requests in flight at once; returns their top lists in order."""
    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            posts = [client.post("/predict", files={"file": (p.name, p.read_bytes())})
                     for p in (images * n)[:n]]
            replies = await asyncio.gather(*posts)
            health = (await client.get("/health")).json()
        assert all(r.status_code == 200 for r in replies)
        return [r.json()["predictions"][0]["top"] for r in replies], health["stats"]
    return asyncio.run(go())


def _counting(predictor, sizes):
    def probabilities(x):
        sizes.append(len(x))
        return Predictor.probabilities(predictor, x)
    return probabilities


def test_micro_batching_batches_concurrent_requests(predictor, images, monkeypatch):
    sizes: list[int] = []
    monkeypatch.setattr(predictor, "probabilities", _counting(predictor, sizes))
    batched, stats = _concurrent(create_app(predictor, max_batch=32, max_wait_ms=500), images, 8)
    assert sum(sizes) == 8 and len(sizes) < 8 and max(sizes) > 1  # fewer, larger model calls
    assert stats["model_calls"] == len(sizes) and stats["requests"] == 8
    sizes.clear()
    unbatched, _ = _concurrent(create_app(predictor, batching=False), images, 8)
    assert sizes == [1] * 8  # one model call per request
    for b, u in zip(batched, unbatched):
        assert [t["class"] for t in b] == [t["class"] for t in u]
        np.testing.assert_allclose([t["prob"] for t in b], [t["prob"] for t in u], atol=1e-6)


def test_micro_batches_never_exceed_max_batch(predictor, images, monkeypatch):
    sizes: list[int] = []
    monkeypatch.setattr(predictor, "probabilities", _counting(predictor, sizes))
    _concurrent(create_app(predictor, max_batch=3, max_wait_ms=500), images, 8)
    assert sum(sizes) == 8 and max(sizes) <= 3 and len(sizes) >= 3


@pytest.mark.timeout(60)  # the failure this guards against is a hang
def test_batching_survives_a_new_event_loop(predictor, images):
    """TestClient without ``with`` runs each request in a fresh event loop: the batcher must follow it."""
    client = TestClient(create_app(predictor))
    for _ in range(2):
        assert client.post("/predict", files=_files(images[:1])).status_code == 200


@pytest.mark.parametrize("batching", [True, False])
def test_decompression_bomb_is_413_and_never_reaches_the_model(predictor, tmp_path, batching):
    from tests.conftest import huge_png

    bomb = huge_png(tmp_path / "bomb.png", 30000, 30000).read_bytes()  # a few hundred bytes, 900 megapixels
    with TestClient(create_app(predictor, batching=batching)) as client:
        r = client.post("/predict", files={"file": ("bomb.png", bomb, "image/png")})
        assert r.status_code == 413 and "bomb.png claims 900.0 megapixels" in r.json()["detail"]
        assert client.get("/health").json()["stats"]["model_calls"] == 0


def test_bearer_token_guards_predict_and_health(predictor, images):
    token = "s3cret-token-0123456789"
    with TestClient(create_app(predictor, token=token)) as client:
        files = {"file": (images[0].name, images[0].read_bytes())}
        assert client.get("/health").status_code == 401
        r = client.post("/predict", files=files)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert client.post("/predict", files=files, headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = {"Authorization": f"Bearer {token}"}
        assert client.post("/predict", files=files, headers=ok).status_code == 200
        assert client.get("/health", headers=ok).json()["stats"]["model_calls"] == 1
