"""The inference server's endpoints, limits and dynamic micro-batching."""
import asyncio

import httpx
import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

import nnlab
from nnlab.deploy import Predictor
from nnlab.deploy.detection import detection_diff
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


# ------------------------------------------------------------------------------------ detection and segmentation
def _as_tensors(found):
    """Detections as JSON (server or ``nnlab predict``) -> the tensors ``detection_diff`` pairs up."""
    return {"boxes": torch.tensor([d["box"] for d in found]).reshape(-1, 4),
            "scores": torch.tensor([d["score"] for d in found]),
            "labels": torch.tensor([hash(d["class"]) % 1000 for d in found])}


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_detections_equal_nnlab_predict_in_the_images_pixels(detect_run, photos, backend):
    predictor = Predictor.open(detect_run, backend)
    want = nnlab.predict(detect_run, photos)
    with TestClient(create_app(predictor)) as client:
        r = client.post("/predict", files=_files(photos))
        health = client.get("/health").json()
    assert r.status_code == 200 and health["task"] == "detect" and health["postprocess"]["graph"] == "dense"
    for got, w, photo in zip(r.json()["predictions"], want, photos):
        assert got["file"] == photo.name and got["size"] == list(Image.open(photo).size)
        found = got["detections"]
        assert found and len(found) == len(w["boxes"])  # the run's own threshold: same detections
        assert all(d["class"] == predictor.classes[d["label"]] for d in found)
        # nnlab predict rounds boxes to 0.1 px; scores and classes must agree exactly up to float error
        assert detection_diff(_as_tensors(found), _as_tensors(w["boxes"])) <= 0.05 + 1e-3
        w_, h_ = got["size"]
        assert all(0 <= b[0] <= b[2] <= w_ and 0 <= b[1] <= b[3] <= h_ for b in (d["box"] for d in found))


def test_score_threshold_reruns_the_post_processing(detect_run, photos):
    predictor = Predictor.open(detect_run)
    with TestClient(create_app(predictor)) as client:
        def ask(query=""):
            r = client.post(f"/predict{query}", files=_files(photos[:1]))
            return r.json()["predictions"][0]["detections"] if r.status_code == 200 else r.status_code

        default, lower = ask(), ask("?score_threshold=0")  # the run's own threshold is 0.007
        scores = [d["score"] for d in default]
        assert len(scores) >= 3
        t = (scores[1] + scores[2]) / 2
        higher = ask(f"?score_threshold={t}")
        assert ask("?score_threshold=1.5") == 422 and ask("?score_threshold=-1") == 422
        assert ask("?format=png") == 400  # a detector has no mask
    assert len(lower) > len(default) and all(d["score"] > 0.007 for d in default)
    assert higher == default[:2]  # NMS keeps a box only for stronger ones: a higher threshold cuts the tail


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_segmentation_serves_shares_and_the_mask_at_the_images_size(segment_run, photos, backend):
    import base64
    import io

    predictor = Predictor.open(segment_run, backend)
    want = nnlab.predict(segment_run, photos)
    with TestClient(create_app(predictor)) as client:
        got = client.post("/predict", files=_files(photos)).json()["predictions"]
        png = client.post("/predict?format=png", files=_files(photos[:1]))
        assert client.post("/predict?format=png", files=_files(photos[:2])).status_code == 400
        assert client.post("/predict?format=gif", files=_files(photos[:1])).status_code == 422
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content == base64.b64decode(got[0]["mask_png"])
    for g, w, photo in zip(got, want, photos):
        mask = np.asarray(Image.open(io.BytesIO(base64.b64decode(g["mask_png"]))))  # class ids, own size
        assert Image.open(photo).size == tuple(g["size"]) == (mask.shape[1], mask.shape[0])
        counts = np.bincount(mask.ravel(), minlength=len(predictor.classes))
        np.testing.assert_allclose(list(g["fractions"].values()), counts / mask.size)
        exact = mask.shape[0] % 16 == 0 and mask.shape[1] % 16 == 0  # whole-pixel upscaling: shares unchanged
        np.testing.assert_allclose(list(g["fractions"].values()), list(w["fractions"].values()),
                                   atol=1e-9 if exact else 0.05)


@pytest.mark.parametrize("run", ["detect_run", "segment_run"])
def test_hostile_uploads_to_detectors_and_segmenters(run, tmp_path, request):
    from tests.conftest import huge_png

    predictor = Predictor.open(request.getfixturevalue(run))
    bomb = huge_png(tmp_path / "bomb.png", 30000, 30000).read_bytes()
    with TestClient(create_app(predictor, max_image_bytes=4000, max_files=2)) as client:
        assert client.post("/predict", files={"file": ("bomb.png", bomb)}).status_code == 413
        bad = client.post("/predict", files={"file": ("x.jpg", b"not an image")})
        assert bad.status_code == 400 and "cannot decode image x.jpg" in bad.json()["detail"]
        assert client.post("/predict", files={"file": ("big.png", b"\0" * 4001)}).status_code == 413
        assert client.post("/predict", data={"note": "x"}).status_code == 400
        assert client.get("/health").json()["stats"]["model_calls"] == 0  # nothing bad reached the model


def _scene_photos(run, folder, scale=2):
    """The run's test scenes as PNG files, ``scale`` times the input size (digits a classic detector finds)."""
    from nnlab import config as cfgmod
    from nnlab.api import run_data

    folder.mkdir()
    test = run_data(run, cfgmod.load(run / "config.yaml"))["test"]
    paths = []
    for i, img in enumerate(test.images[:3]):  # (C, H, W) uint8
        pil = Image.fromarray(img.permute(1, 2, 0).squeeze(-1).numpy())
        paths.append(folder / f"scene{i}.png")
        pil.resize((pil.width * scale, pil.height * scale)).save(paths[-1])
    return paths


def test_a_classic_detector_is_served_eagerly_as_nnlab_predict_runs_it(tmp_path):
    from nnlab.deploy.detection import NotExportable

    cfg = {"task": "detect", "name": "hog", "data": {"dataset": "scenes", "image_size": [32, 32]},
           "detect": {"scenes": {"n": 16, "n_test": 6, "digits": [1, 1], "scale": [1.0, 1.0]}},
           "model": {"name": "hog_svm", "window": [16, 16], "cell": 4, "mining_rounds": 1, "scale_step": 2.0,
                     "score_threshold": -1.0}}  # an SVM margin: below 0 too, so a tiny run finds boxes
    run = nnlab.fit(cfg, runs_root=tmp_path, progress=False).dir
    photos = _scene_photos(run, tmp_path / "scenes")
    with pytest.raises(NotExportable, match="classic detector"):
        Predictor.open(run, "onnx")
    predictor = Predictor.open(run)  # no network to export: eager, one image at a time
    assert predictor.backend == "torch" and predictor.fixed_batch == 1
    want = nnlab.predict(run, photos)
    with TestClient(create_app(predictor)) as client:
        got = client.post("/predict", files=_files(photos)).json()["predictions"]
        assert "postprocess" not in client.get("/health").json()
    for g, w in zip(got, want):
        assert len(g["detections"]) == len(w["boxes"])
        if w["boxes"]:
            assert detection_diff(_as_tensors(g["detections"]), _as_tensors(w["boxes"])) <= 0.05 + 1e-3
    assert sum(len(g["detections"]) for g in got) > 0
