"""End to end in a real headless Chromium (Debian's chromium driven by Playwright): log in, create a dataset,
train a model while its chart updates, classify an image, open the confusion matrix. Screenshots are saved
under test-artifacts/web/ (ignored by git)."""
from __future__ import annotations

import importlib.util
import os
import socket
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from nnlab.web.app import create_app
from tests.conftest import ROOT
from tests.web.conftest import wait_for

CHROMIUM = Path(os.environ.get("NNLAB_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "test-artifacts" / "web"
EPOCHS = 8
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing() -> str | None:
    """Why the browser test cannot run here, or None."""
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} is absent (apt-get install -y chromium); Playwright never downloads a browser here"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


pytestmark = [pytest.mark.slow]
if missing() and not IN_CI:  # on a developer's machine: skip with the reason; under CI=true: fail below
    pytest.skip(missing(), allow_module_level=True)


@pytest.fixture
def server(settings):
    """The workbench under uvicorn on a free loopback port, scheduler running."""
    import uvicorn

    settings.scheduler = True
    app = create_app(settings)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    wait_for(lambda: srv.started, 30)
    yield app, f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(autouse=True)
def browser_required() -> None:
    """Under CI=true a missing browser fails the run (before the server starts) instead of skipping."""
    if missing():
        pytest.fail(f"CI=true, so the only browser test must run, but {missing()}", pytrace=False)


@contextmanager
def chromium_page(last: str) -> Iterator:
    """A page in headless Chromium; its last state is saved as ``last`` (a screenshot) whatever happens."""
    from playwright import sync_api

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            page.screenshot(path=str(ARTIFACTS / last), full_page=True)
            browser.close()


def test_workbench_in_a_browser(server, folder):
    app, url = server
    token = app.state.wb.store.create_token("browser")
    with chromium_page("last.png") as page:
        _walk_through(page, url, token, folder)


def _walk_through(page, url: str, token: str, folder: Path) -> None:
    page.goto(f"{url}/datasets")
    assert "/login" in page.url  # not logged in yet
    page.fill("#token", token)
    page.click("#login")
    page.wait_for_url(f"{url}/datasets")

    page.fill("#ds-name", "shapes")
    page.fill("#ds-path", str(folder))
    page.click("#ds-create")
    page.wait_for_selector("#counts")
    assert "bright" in page.inner_text("#counts")
    page.wait_for_function("[...document.querySelectorAll('img.sample')].every(i => i.complete && i.naturalWidth)")
    page.screenshot(path=str(ARTIFACTS / "1-dataset.png"), full_page=True)

    page.goto(f"{url}/models/new")
    page.select_option("#model", "mlp")
    page.fill("#epochs", str(EPOCHS))
    page.fill("#batch_size", "8")
    page.fill("#overrides", "model.hidden=[16]\ntrain.device=cpu")
    page.select_option("#schedule", "step")  # the live LR preview redraws with the form
    page.wait_for_function(f"document.getElementById('lr-preview').dataset.points == '{EPOCHS}'")
    page.screenshot(path=str(ARTIFACTS / "2-new-model.png"), full_page=True)
    page.click("#train")
    page.wait_for_url(f"{url}/jobs/*")

    # the page was drawn before the worker even started (torch takes seconds to import): every point that
    # appears later arrives live, over server-sent events, without a reload
    assert page.get_attribute("#chart-loss", "data-points") == "0"
    page.wait_for_function("['completed', 'failed'].includes(document.getElementById('status').textContent)",
                           timeout=180_000)
    assert page.inner_text("#status") == "completed", page.inner_text("#log")
    page.wait_for_function(f"document.getElementById('chart-loss').dataset.points == '{EPOCHS}'")
    assert page.inner_text("#best") != "-" and page.locator("#chart-acc canvas").count() == 1
    page.screenshot(path=str(ARTIFACTS / "3-job.png"), full_page=True)

    page.click("#infer-link")
    page.set_input_files("#image-file", str(folder / "bright" / "0.png"))
    page.click("#classify-one")
    page.wait_for_selector("#top5")
    assert page.locator("#top5 tr").count() == 3  # header + both classes
    page.screenshot(path=str(ARTIFACTS / "4-classify-one.png"), full_page=True)

    page.fill("#folder-path", str(folder))
    page.click("#classify-many")
    page.wait_for_selector("#accuracy")
    page.click("#show-confusion")
    assert page.is_visible("#confusion")
    assert page.locator("#confusion td").count() == 4
    page.screenshot(path=str(ARTIFACTS / "5-confusion.png"), full_page=True)

    page.goto(page.url.replace("/infer/folder", "/inspect"))
    page.set_input_files("input[name=file]", str(folder / "dark" / "0.png"))
    page.click("text=Inspect >> nth=-1")
    page.wait_for_selector("#layers")
    assert page.locator("#layers tr").count() >= 3
    page.screenshot(path=str(ARTIFACTS / "6-inspect.png"), full_page=True)
    page.goto(f"{url}/compare?ids=1")
    page.wait_for_selector("#cmp-acc canvas")
    page.screenshot(path=str(ARTIFACTS / "7-compare.png"), full_page=True)


def test_a_segmentation_job_from_a_ready_config_in_a_browser(server, tmp_path):
    """Task selector -> ready config fills the form -> the job trains -> overlays and mIoU on the job page ->
    an uploaded image comes back as an overlay on the Infer page."""
    import numpy as np
    from PIL import Image

    from tests.contracts.test_task_contract import TINY

    app, url = server
    _ready_configs(app, tmp_path / "configs", "segment", TINY["segment"])
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)).save(photo)
    token = app.state.wb.store.create_token("browser")
    with chromium_page("last-segment.png") as page:
        _segment_walk_through(page, url, token, photo)


def _segment_walk_through(page, url: str, token: str, photo: Path) -> None:
    from nnlab.data.shapes import CLASSES as SHAPE_CLASSES

    _login(page, url, token, "/models/new")
    page.select_option("#task", "segment")  # the first ready config of the task fills the form
    assert page.input_value("#preset") == "segment/tiny.yaml" and page.input_value("#model") == "unet"
    assert page.input_value("#epochs") == "2" and page.input_value("#batch_size") == "8"
    assert page.locator("#model option[data-task=classify]").first.is_hidden()
    page.wait_for_function("document.getElementById('lr-preview').dataset.points == '2'")  # the preset's
    page.screenshot(path=str(ARTIFACTS / "8-new-segment.png"), full_page=True)
    page.click("#train")
    page.wait_for_url(f"{url}/jobs/*")
    page.wait_for_function("['completed', 'failed'].includes(document.getElementById('status').textContent)",
                           timeout=180_000)
    assert page.inner_text("#status") == "completed", page.inner_text("#log")
    page.locator("#segment-overlays").wait_for()  # the page reloads itself once the results are ready
    page.wait_for_function("document.getElementById('segment-overlays').naturalWidth > 0")
    assert "mIoU" in page.inner_text("#segment-metrics") and page.locator("#chart-iou canvas").count() == 1
    page.screenshot(path=str(ARTIFACTS / "9-segment-job.png"), full_page=True)
    page.click("#infer-link")
    page.set_input_files("#image-file", str(photo))
    page.click("#classify-one")
    page.wait_for_function("document.getElementById('infer-result').naturalWidth > 0")
    assert page.locator("#fractions tr").count() == 1 + len(SHAPE_CLASSES)  # header + one row per class
    page.screenshot(path=str(ARTIFACTS / "10-segment-infer.png"), full_page=True)


def _login(page, url: str, token: str, next: str) -> None:
    page.goto(f"{url}/login?next={next}")
    page.fill("#token", token)
    page.click("#login")
    page.wait_for_url(f"{url}{next}")


def _ready_configs(app, root: Path, task: str, config: dict) -> None:
    import yaml

    (root / task).mkdir(parents=True)
    (root / task / "tiny.yaml").write_text(yaml.safe_dump({"name": "tiny", **config}))
    app.state.wb.settings.configs = root


def test_sample_grids_join_the_job_page_while_a_vae_trains(server, tmp_path):
    """The generate view's strip and slider grow by one grid per epoch, live (no reload)."""
    from tests.contracts.test_task_contract import TINY

    app, url = server
    vae = TINY["generate-vae"]
    _ready_configs(app, tmp_path / "configs", "generate", {**vae, "generate": {**vae["generate"], "iw_samples": 0}})
    token = app.state.wb.store.create_token("browser")
    with chromium_page("last-generate.png") as page:
        _login(page, url, token, "/models/new")
        page.select_option("#task", "generate")
        page.select_option("#preset", "generate/tiny.yaml")  # image-folder tasks start from no ready config
        assert page.input_value("#model") == "vae" and page.input_value("#dataset") == ""
        page.fill("#epochs", "3")
        page.click("#train")
        page.wait_for_url(f"{url}/jobs/*")
        assert page.locator("#sample-strip figure").count() == 0 and page.is_hidden("#sample-current")
        page.wait_for_function("document.querySelectorAll('#sample-strip figure').length == 3", timeout=180_000)
        assert page.get_attribute("#sample-epoch", "max") == "2" and page.inner_text("#sample-slider .epoch") == "3"
        page.fill("#sample-epoch", "0")  # the slider shows the first epoch's grid
        assert page.get_attribute("#sample-current", "src").endswith("/files/samples/epoch_001.png")
        page.screenshot(path=str(ARTIFACTS / "11-generate-live.png"), full_page=True)
