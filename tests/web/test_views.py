"""The job page's per-task views, the Infer page for detection / segmentation and text samples, over tiny runs
trained in-process (the contract test's tiny configs) and registered as finished jobs."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import nnlab
from nnlab.engine.runs import RunDir
from nnlab.web.views import rl as rl_view
from tests.conftest import huge_png
from tests.contracts.test_task_contract import TINY

VAE = {**TINY["generate-vae"], "generate": {**TINY["generate-vae"]["generate"], "iw_samples": 0, "samples": 4}}
DATES = {"task": "sequence", "sequence": {"mode": "seq2seq", "pairs": 200, "val_fraction": 0.1, "test_fraction": 0.1,
                                          "beam": 2},
         "model": {"name": "seq2seq", "kind": "gru", "hidden": 16, "embed": 8}, "optim": {"name": "adam", "lr": 0.01},
         "train": {"epochs": 1, "batch_size": 32}}
CONFIGS = {"detect": TINY["detect"], "segment": TINY["segment"], "generate": VAE, "rl": TINY["rl"],
           "sequence": TINY["sequence"], "seq2seq": DATES}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """task -> a run trained once for this module (each a few seconds at most)."""
    root, done = tmp_path_factory.mktemp("runs"), {}

    def get(task: str) -> nnlab.api.Run:
        if task not in done:
            done[task] = nnlab.fit({"name": task, "seed": 0, **CONFIGS[task]}, runs_root=root, progress=False)
        return done[task]
    return get


def finished_job(app, run) -> int:
    """A completed job over ``run`` with its per-epoch metrics, as the worker records them."""
    store = app.state.wb.store
    job_id = store.add_job(run.dir.name, {"name": run.dir.name, "seed": 0, **CONFIGS[run.dir.name.rsplit("-", 1)[0]]},
                           None)
    store.update_job(job_id, status="completed", run_dir=str(run.dir))
    with RunDir(run.dir).metrics.open(newline="") as f:
        for row in csv.DictReader(f):
            store.add_metrics(job_id, int(row["epoch"]), {k: float(v) for k, v in row.items() if k != "epoch" and v})
    return job_id


def _figures(browser, html: str, job_id: int) -> list[str]:
    """Every run figure the page links, each fetched (so each must exist and be an image)."""
    urls = sorted(set(re.findall(rf'/jobs/{job_id}/files/[\w/.-]+\.(?:png|gif)', html)))
    for url in urls:
        r = browser.get(url)
        assert r.status_code == 200 and r.headers["content-type"] in ("image/png", "image/gif"), url
    return urls


def test_detect_view_shows_boxes_beside_truth_and_the_evaluator_table(app, browser, trained):
    run = trained("detect")
    job_id = finished_job(app, run)
    html = browser.get(f"/jobs/{job_id}").text
    assert 'id="detect-images"' in html and 'id="detect-table"' in html and "mAP50" in html
    assert f"{run.test['mAP50']:.4f}" in html  # the evaluator's figure on the run's own test split
    assert all(f"<td>{c}</td>" in html for c in run.meta["classes"])  # per-class rows
    urls = _figures(browser, html, job_id)
    assert sum("_truth.png" in u for u in urls) == sum("_predicted.png" in u for u in urls) >= 1
    assert any(u.endswith("pr_test.png") for u in urls) and 'id="infer-link"' in html
    stamp = (RunDir(run.dir).web / "detect.json").stat().st_mtime_ns
    assert browser.get(f"/jobs/{job_id}").status_code == 200
    assert (RunDir(run.dir).web / "detect.json").stat().st_mtime_ns == stamp  # cached per checkpoint


def test_segment_view_shows_overlays_and_iou_per_class(app, browser, trained):
    run = trained("segment")
    job_id = finished_job(app, run)
    html = browser.get(f"/jobs/{job_id}").text
    assert 'id="segment-overlays"' in html and "mIoU</b> " + f"{run.test['miou']:.4f}" in html
    table = html[html.index('id="segment-per-class"'):]
    assert all(f"<td>{c}</td>" in table for c in run.meta["classes"])
    assert any("overlays_test.png" in u for u in _figures(browser, html, job_id))


def test_generate_view_shows_the_sample_grid_of_every_epoch(app, browser, trained):
    run = trained("generate")
    job_id = finished_job(app, run)
    html = browser.get(f"/jobs/{job_id}").text
    assert 'id="sample-slider"' in html and 'max="1"' in html  # two epochs: slider positions 0..1
    urls = _figures(browser, html, job_id)
    assert {u.rsplit("/", 1)[1] for u in urls} == {"epoch_001.png", "epoch_002.png"}


def test_rl_view_shows_the_return_curve_from_metrics_csv_and_the_policy_gif(app, browser, trained):
    run = trained("rl")
    job_id = finished_job(app, run)
    html = browser.get(f"/jobs/{job_id}").text
    curve = rl_view.return_curve(RunDir(run.dir))
    with RunDir(run.dir).metrics.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert curve["env_steps"] == [float(r["env_steps"]) for r in rows] and len(rows) == 2
    assert 'id="return-curve"' in html and '"val_return": [' in html
    (gif,) = _figures(browser, html, job_id)
    assert browser.get(gif).content[:6] == b"GIF89a" and 'id="policy-return"' in html


def test_rl_view_says_how_to_get_rendering_when_pygame_is_missing(app, browser, trained, monkeypatch):
    job_id = finished_job(app, trained("rl"))
    monkeypatch.setattr(rl_view.importlib.util, "find_spec", lambda name: None)
    for cache in RunDir(trained("rl").dir).web.glob("rl.json"):
        cache.unlink()
    html = browser.get(f"/jobs/{job_id}").text
    assert "pip install &#39;nnlab[render]&#39;" in html and 'id="return-curve"' in html


def test_sequence_view_samples_text_on_demand(app, browser, anon, trained):
    job_id = finished_job(app, trained("sequence"))
    assert 'id="sample-form"' in browser.get(f"/jobs/{job_id}").text
    r = browser.post(f"/jobs/{job_id}/sample", data={"prompt": "12 + ", "length": "30", "temperature": "0"})
    text = re.search(r'<pre id="sample-text"><b>(.*?)</b>(.*?)</pre>', r.text, re.S)
    assert r.status_code == 200 and text.group(1) == "12 + " and len(text.group(2)) == 30
    again = browser.post(f"/jobs/{job_id}/sample", data={"prompt": "12 + ", "length": "30", "temperature": "0"})
    assert text.group(0) in again.text  # temperature 0: the most likely character each step, reproducible
    bad = browser.post(f"/jobs/{job_id}/sample", data={"prompt": "Zebra", "length": "5", "temperature": "1"})
    assert bad.status_code == 400 and "Z" in bad.text and 'id="sample-form"' in bad.text
    hot = browser.post(f"/jobs/{job_id}/sample", data={"prompt": "1", "length": "5", "temperature": "50"})
    assert hot.status_code == 400 and "temperature 0..5" in hot.text


def test_sequence_view_translates_each_line_of_a_seq2seq_prompt(app, browser, trained):
    job_id = finished_job(app, trained("seq2seq"))
    assert "Translate" in browser.get(f"/jobs/{job_id}").text
    r = browser.post(f"/jobs/{job_id}/sample", data={"prompt": "12 march, 1989\n2019/02/15"})
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td></tr>", r.text[r.text.index('id="translations"'):])
    assert r.status_code == 200 and [src for src, _ in rows] == ["12 march, 1989", "2019/02/15"]
    assert all(out for _, out in rows)  # one output per line (after one epoch, not necessarily ISO yet)


def test_sampling_is_a_protected_write(app, browser, anon, trained):
    job_id = finished_job(app, trained("sequence"))
    form = {"prompt": "1", "length": "5", "temperature": "1"}
    assert anon.post(f"/jobs/{job_id}/sample", data=form, follow_redirects=False).status_code == 303  # to login
    browser.csrf = "forged"
    assert browser.post(f"/jobs/{job_id}/sample", data=form).status_code == 403


def _png(path: Path, size: tuple[int, int] = (40, 52)) -> Path:
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (*size, 3), dtype=np.uint8)).save(path)
    return path


@pytest.mark.parametrize("task, table", [("detect", 'id="boxes"'), ("segment", 'id="fractions"')])
def test_infer_page_draws_boxes_or_an_overlay_on_an_upload(app, browser, trained, tmp_path, task, table):
    job_id = finished_job(app, trained(task))
    assert "Infer with job" in browser.get(f"/jobs/{job_id}/infer").text
    image = _png(tmp_path / "street.png")
    r = browser.post(f"/jobs/{job_id}/infer/image", files={"file": ("street.png", image.read_bytes(), "image/png")})
    assert r.status_code == 200 and table in r.text and 'src="data:image/png;base64,' in r.text
    bomb = huge_png(tmp_path / "bomb.png", 30000, 30000).read_bytes()
    r = browser.post(f"/jobs/{job_id}/infer/image", files={"file": ("bomb.png", bomb, "image/png")})
    assert r.status_code == 413 and "bomb.png" in r.text and "upload-0" not in r.text


def test_infer_upload_needs_a_login_and_csrf(app, anon, browser, trained, tmp_path):
    job_id = finished_job(app, trained("segment"))
    file = {"file": ("a.png", _png(tmp_path / "a.png").read_bytes(), "image/png")}
    assert anon.post(f"/jobs/{job_id}/infer/image", files=file, follow_redirects=False).status_code == 303
    browser.csrf = "0" * 64
    assert browser.post(f"/jobs/{job_id}/infer/image", files=file).status_code == 403


@pytest.mark.parametrize("path", ["web/..%2Fconfig.yaml", "checkpoints/best.pt", "eval/test.json", "web/missing.png",
                                  "samples/.hidden.png"])
def test_job_files_serve_only_the_views_figures(app, browser, trained, path):
    job_id = finished_job(app, trained("generate"))
    assert browser.get(f"/jobs/{job_id}/files/{path}").status_code == 404
    assert browser.get(f"/jobs/{job_id}/files/samples/epoch_001.png").status_code == 200


def test_the_api_infers_and_samples_with_a_token(app, client, anon, trained, tmp_path):
    seg, seq = finished_job(app, trained("segment")), finished_job(app, trained("sequence"))
    file = {"file": ("a.png", _png(tmp_path / "a.png").read_bytes(), "image/png")}
    r = client.post(f"/api/jobs/{seg}/infer", files=file).json()
    assert r["task"] == "segment" and r["image"] == "a.png" and abs(sum(r["fractions"].values()) - 1) < 1e-6
    assert r["png"].startswith("data:image/png;base64,")
    r = client.post(f"/api/jobs/{seq}/sample", json={"prompt": "3", "length": 7, "temperature": 0}).json()
    assert r["prompt"] == "3" and len(r["sample"]) == 7
    assert client.post(f"/api/jobs/{seq}/sample", json={"prompt": "3", "length": 10**6}).status_code == 422
    wrong = client.post(f"/api/jobs/{seq}/infer", files=file)
    assert wrong.status_code == 400 and "detection or segmentation" in wrong.json()["detail"]
    assert anon.post(f"/api/jobs/{seq}/sample", json={"prompt": "3"}).status_code == 401


def test_nan_metrics_reach_the_api_and_the_live_stream_as_null(app, client, trained):
    job_id = finished_job(app, trained("rl"))  # its second epoch finished no episode: episode_return is NaN
    rows = client.get(f"/api/jobs/{job_id}/metrics").json()
    assert [r["epoch"] for r in rows] == [1, 2] and rows[1]["episode_return"] is None
    events = client.get(f"/api/jobs/{job_id}/events").text
    assert events.count("event: metrics") == 2 and "NaN" not in events


@pytest.mark.slow  # a 2-epoch Mask R-CNN fit and its evaluation (~3 s)
def test_mask_rcnn_job_overlays_instance_masks_on_the_job_and_infer_pages(app, browser, tmp_path):
    import yaml

    from nnlab.data.boxes.draw import draw_boxes
    from nnlab.inference import evaluation
    from tests.deploy.runs import make_mask_run

    run_dir = make_mask_run(tmp_path)
    store = app.state.wb.store
    job_id = store.add_job("mask_rcnn", yaml.safe_load(RunDir(run_dir).config.read_text()), None)
    store.update_job(job_id, status="completed", run_dir=str(run_dir))
    html = browser.get(f"/jobs/{job_id}").text
    assert 'id="detect-images"' in html and "mask_mAP50" in html
    _, _, data = evaluation(run_dir, "test")
    test = data.split("test")
    drawn = np.asarray(Image.open(RunDir(run_dir).web / "detect_0_truth.png"))
    plain = np.asarray(draw_boxes(test.images[0], test.targets[0]["boxes"], test.targets[0]["labels"], test.classes))
    inside = test.targets[0]["masks"].bool().any(0).numpy()  # (H, W): every true instance's pixels
    assert inside.any() and (drawn != plain).any(-1)[inside].mean() > 0.9 and not (drawn != plain)[~inside].any()
    image = _png(tmp_path / "street.png", (48, 64))
    r = browser.post(f"/jobs/{job_id}/infer/image", files={"file": ("street.png", image.read_bytes(), "image/png")})
    assert r.status_code == 200 and "mask (pixels)" in r.text and 'src="data:image/png;base64,' in r.text
