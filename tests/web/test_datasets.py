"""Box folders (detection data) as workbench datasets: counted per class, shown with their boxes, confined, and
used by detection jobs."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nnlab.data.boxes import BoxRecord, BoxSet, write
from nnlab.web.datasets import BOXES, folder_counts


def box_folder(out: Path, src: Path, n: int = 12, fmt: str = "voc") -> Path:
    """``n`` 48 x 40 images with one or two boxes each (classes cat / dog) in ``fmt``."""
    src.mkdir(parents=True)
    rng, records = np.random.default_rng(0), []
    for i in range(n):
        path = src / f"im{i}.png"
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(path)
        boxes, names = [[2, 3, 20, 30]], ["cat"]
        if i % 2:
            boxes, names = boxes + [[24, 5, 46, 38]], names + ["dog"]
        records.append(BoxRecord(path.name, 48, 40, np.array(boxes, dtype=float), names, path))
    return write(BoxSet(records, ["cat", "dog"]), out, fmt)


@pytest.fixture
def boxes(settings, tmp_path) -> Path:
    return box_folder(settings.allowed_roots[0] / "pets", tmp_path / "src")


def test_box_folders_count_boxes_per_class(boxes, tmp_path):
    assert folder_counts(boxes) == {BOXES: {"cat": 12, "dog": 6}}
    yolo = box_folder(tmp_path / "yolo", tmp_path / "src2", n=2, fmt="yolo")
    assert folder_counts(yolo) == {BOXES: {"cat": 2, "dog": 1}}


def test_the_dataset_page_shows_images_with_their_boxes(browser, boxes):
    r = browser.post("/datasets", data={"name": "pets", "path": str(boxes)})
    assert r.status_code == 200 and 'id="box-preview" src="data:image/png;base64,' in r.text
    assert "<td>cat</td><td>12</td>" in r.text and "task=detect" in r.text


def test_a_box_image_linked_out_of_the_folder_is_refused(browser, boxes, tmp_path):
    image = next((boxes / "images").glob("*.png"))
    Image.new("RGB", (48, 40)).save(tmp_path / "secret.png")
    image.unlink()
    image.symlink_to(tmp_path / "secret.png")
    r = browser.post("/datasets", data={"path": str(boxes)})
    assert r.status_code == 403 and "outside the allowed roots" in r.text


def test_a_detection_job_trains_on_a_box_dataset(app, browser, boxes, tmp_path):
    import nnlab

    browser.post("/datasets", data={"name": "pets", "path": str(boxes)})
    page = browser.get("/models/new?dataset=1&task=detect").text
    assert re.search(r'<option value="1" data-kind="boxes" selected>', page)
    form = {"task": "detect", "dataset_id": "1", "model": "yolo", "optim": "adam", "epochs": "1", "batch_size": "4",
            "overrides": "model.width=4\nmodel.neck_width=8\ndata.image_size=[48, 48]\ntrain.device=cpu"}
    assert browser.post("/models/new", data=form).status_code == 200
    cfg = app.state.wb.store.job(1)["config"]
    assert (cfg["task"], cfg["data"]["dataset"], cfg["data"]["path"]) == ("detect", "boxes", str(boxes))
    run = nnlab.fit(cfg, runs_root=tmp_path / "runs", progress=False)
    assert run.meta["classes"] == ["cat", "dog"] and run.meta["status"] == "completed"
