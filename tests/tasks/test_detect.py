"""The detect task: splits, classic detectors trained through nnlab.fit, predict's box mapping, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import nnlab
from nnlab import config as cfgmod
from nnlab.data import Preprocess
from nnlab.data.boxes import BoxDataset
from nnlab.errors import ConfigError, DataError, UserError
from nnlab.metrics.coco_reference import cocoeval
from nnlab.models.detection.classic.base import ClassicDetector
from nnlab.tasks.detect import Detect, split_boxes


@pytest.fixture(autouse=True)
def sklearn_digits(tmp_path, monkeypatch):
    """Scenes from scikit-learn's 8x8 digits (fast, always there), whatever MNIST the machine has."""
    monkeypatch.setenv("NNLAB_MNIST", str(tmp_path / "no-mnist"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def _tiny(model: dict, digits=(1, 1), **train) -> dict:
    return {"task": "detect", "name": model["name"], "data": {"dataset": "scenes", "image_size": [32, 32]},
            "detect": {"scenes": {"n": 16, "n_test": 6, "digits": list(digits), "scale": [1.0, 1.0]}},
            "model": model, "optim": {"name": "adam", "lr": 0.01}, "train": {"epochs": 1, "batch_size": 8, **train}}


def _boxes(n: int) -> BoxDataset:
    targets = [{"boxes": torch.tensor([[0.0, 0.0, 4.0, 4.0]]), "labels": torch.tensor([i % 2])} for i in range(n)]
    return BoxDataset(torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 8, 8).clone(), targets,
                      ["a", "b"], [f"{i}.png" for i in range(n)])


def test_split_boxes_takes_missing_splits_from_train_and_keeps_given_ones():
    out = split_boxes({"train": _boxes(20)}, 0.1, 0.25, None, seed=0)
    assert [len(out[s]) for s in ("train", "val", "test")] == [13, 2, 5]
    seen = sorted(f for s in out.values() for f in s.files)
    assert seen == sorted(f"{i}.png" for i in range(20))  # a partition: nothing lost, nothing shared
    again = split_boxes({"train": _boxes(20)}, 0.1, 0.25, None, seed=0)
    assert again["test"].files == out["test"].files  # seeded
    given = split_boxes({"train": _boxes(10), "test": _boxes(3)}, 0.0, 0.5, 4, seed=1)
    assert len(given["test"]) == 3 and "val" not in given and len(given["train"]) == 4
    with pytest.raises(DataError, match="cannot split 2 samples"):
        split_boxes({"train": _boxes(2)}, 0.0, 0.9, None, seed=0)


def test_classic_fit_detector_trains_through_fit_and_evaluates(tmp_path):
    model = {"name": "hog_svm", "window": [16, 16], "cell": 4, "mining_rounds": 1, "scale_step": 2.0}
    run = nnlab.fit(_tiny(model), runs_root=tmp_path, progress=False)
    fit = run.meta["fit"]
    assert fit["positives"] == 14 and fit["seconds"] > 0  # 16 scenes less a 10% val split, one digit each
    r = nnlab.evaluate(run.dir)
    assert r["task"] == "detect" and r["count"] == 6
    assert r["mAP50"] == pytest.approx(run.test["mAP50"])  # eval reproduces the saved test metrics
    assert len(r["table_header"]) == len(r["table"][0]) and len(r["table"]) >= 12  # COCO's 12 rows + VOC's
    assert any("101-point" in " ".join(map(str, row)) or "all-point" in " ".join(map(str, row)) for row in r["table"])
    assert all(0.0 <= r[k] <= 1.0 for k in ("mAP", "mAP50", "mAP75"))
    assert Image.open(r["pr_png"]).size[0] > 0


def test_cls_loc_trains_through_the_loop_with_its_loss_dict(tmp_path):
    model = {"name": "cls_loc", "backbone": "lenet5", "box_loss": "giou"}
    run = nnlab.fit(_tiny(model, epochs=2), runs_root=tmp_path, progress=False)
    header = (run.dir / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"loss", "loss_cls", "loss_box", "val_mAP50"} <= set(header)
    assert "fit" not in run.meta and run.meta["epochs_done"] == 2
    assert set(run.test) == {"mAP", "mAP50", "mAP75", "AR100", "top_iou"} and 0 <= run.test["top_iou"] <= 1


class FixedBox(ClassicDetector):
    """A 'pretrained' detector that answers one box at fixed input coordinates, remembering what it saw."""

    fit_mode = "pretrained"
    classes = 1

    def forward(self, images: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        self.seen = images
        return [{"boxes": torch.tensor([[8.0, 4.0, 24.0, 24.0]]), "scores": torch.tensor([0.9]),
                 "labels": torch.tensor([0])} for _ in images]


# squash: x / 0.5, y / 1; letterbox: (v - 8 px of top padding) / 0.5, so y1 = -8, clipped to the image
@pytest.mark.parametrize("mode, expected", [("squash", [16.0, 4.0, 48.0, 24.0]),
                                            ("letterbox", [16.0, 0.0, 48.0, 32.0])])
def test_predict_maps_boxes_back_to_the_original_image(tmp_path, mode, expected):
    path = tmp_path / "wide.png"
    Image.fromarray(np.full((32, 64, 3), 255, np.uint8)).save(path)  # W 64 x H 32, white
    task = Detect(cfgmod.from_dict(_tiny({"name": "hog_people"})))
    info = {"classes": ["thing"], "resize_mode": mode,
            "preprocess": Preprocess(3, 32, 32, "squash", [0.5] * 3, [0.25] * 3).to_dict()}
    det = FixedBox()
    (res,) = task.predict(det, info, [path], torch.device("cpu"), out=tmp_path / "out")
    assert res["boxes"] == [{"class": "thing", "score": pytest.approx(0.9), "box": expected}]
    assert float(det.seen.max()) == pytest.approx(1.0) and float(det.seen.min()) >= 0.0  # raw pixels in [0, 1]
    assert Image.open(res["png"]).size == (64, 32)


@pytest.mark.parametrize("mode", ["squash", "letterbox"])
def test_masks_map_back_to_the_original_image_and_become_rle(tmp_path, mode):
    """A rectangle in a 64 x 32 photo, placed in the 32 x 32 input as training did, maps back onto itself."""
    from nnlab.data.boxes.rle import decode_rle
    from nnlab.tasks.detect import instance_masks, place_image

    path = tmp_path / "wide.png"
    Image.fromarray(np.zeros((32, 64, 3), np.uint8)).save(path)
    pre = Preprocess(3, 32, 32, "squash", [0.5] * 3, [0.25] * 3)
    _, place, _ = place_image(path, pre, mode)
    truth = np.zeros((32, 64), bool)
    truth[8:24, 16:48] = True  # (h, w) in the photo's pixels
    ys, xs = np.meshgrid(np.arange(32) + 0.5, np.arange(32) + 0.5, indexing="ij")  # input pixel centres
    x_img, y_img = (xs - place.ox) / place.sx, (ys - place.oy) / place.sy
    inside = (x_img > 16) & (x_img < 48) & (y_img > 8) & (y_img < 24)
    masks = torch.from_numpy(inside.astype(np.float32))[None]  # (1, 32, 32) in input pixels
    pixels = np.zeros((32, 64, 3), np.uint8)
    (rle,) = instance_masks(masks, place, pixels)
    back = decode_rle(rle)
    assert np.array_equal(back, truth)  # bilinear back-resize cut at 0.5: the edges land where they were
    assert (pixels[back] != 0).any(-1).all() and not pixels[~back].any()  # blended exactly where the mask is


@pytest.mark.parametrize("change, error, needle", [
    ({"data": {"dataset": "voc_folder"}}, UserError, "unknown box dataset 'voc_folder'"),
    ({"model": {"name": "hog_people"}}, ConfigError, "detects one class (person), the dataset has 10"),
    ({"model": {"name": "haar", "cascades": ["face", "eye"]}}, ConfigError, "one class per cascade (2"),
])
def test_bad_input_fails_before_training_with_one_message(tmp_path, change, error, needle):
    cfg = _tiny({"name": "hog_svm"}, digits=(1, 2))
    for section, values in change.items():
        cfg[section] = {**cfg[section], **values} if section == "data" else values
    with pytest.raises(error) as e:
        nnlab.fit(cfg, runs_root=tmp_path, progress=False)
    assert needle in str(e.value)
    assert not (tmp_path / "detect").exists()  # no run directory started


def test_top_box_iou_against_a_direct_computation():
    from nnlab.tasks.detect import top_box_iou

    t = [{"boxes": torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])},
         {"boxes": torch.zeros(0, 4)}, {"boxes": torch.tensor([[0.0, 0.0, 4.0, 4.0]])}]
    p = [{"boxes": torch.tensor([[0.0, 0.0, 10.0, 5.0], [20.0, 20.0, 30.0, 30.0]]), "scores": torch.tensor([0.9, 0.1])},
         {"boxes": torch.zeros(0, 4), "scores": torch.zeros(0)},
         {"boxes": torch.zeros(0, 4), "scores": torch.zeros(0)}]
    assert top_box_iou(p, t) == pytest.approx((0.5 + 0.0) / 2)  # the top box covers half of the first object


class Oracle(torch.nn.Module):
    """Returns each batch's own targets as detections (score 1), masks moved by ``shift`` pixels to the right."""

    def __init__(self, shift: int = 0) -> None:
        super().__init__()
        self.targets, self.shift = None, shift

    def forward(self, x):
        return [{"boxes": t["boxes"], "scores": torch.ones(len(t["boxes"])), "labels": t["labels"],
                 "masks": t["masks"].roll(self.shift, -1).float()} for t in self.targets]


def test_mask_ap_from_predicted_masks():
    task = Detect(cfgmod.from_dict(_tiny({"name": "mask_rcnn"}, digits=(2, 2))))
    data = task.load_data(progress=False)
    task.setup(None, data.info)
    x, targets = next(iter(task.loader(data, "test")))
    out = {}
    for shift in (0, 3):
        oracle, ev = Oracle(shift), task.evaluator()
        oracle.targets = targets
        ev.update(oracle, (x, targets))
        out[shift] = ev.compute()
    assert out[0]["mAP"] == pytest.approx(1.0) and out[0]["mask_mAP"] == pytest.approx(1.0)
    assert out[3]["mAP"] == pytest.approx(1.0) and out[3]["mask_mAP"] < 0.9  # same boxes, worse masks
    reference = cocoeval(ev.predictions, ev.targets, task.num_classes, iou_type="segm")
    np.testing.assert_allclose(ev.masks.precision, reference.eval["precision"], atol=1e-4)


@pytest.mark.slow  # ~3 s: a fit and an eval
def test_mask_rcnn_trains_through_fit_and_eval_reports_mask_ap(tmp_path):
    model = {"name": "mask_rcnn", "width": 4, "neck_width": 8, "fc_width": 16, "mask_width": 8, "anchor_scale": 2}
    cfg = _tiny(model)
    cfg["data"]["image_size"] = [64, 64]
    run = nnlab.fit(cfg, runs_root=tmp_path, progress=False)
    assert {"mask_mAP", "mask_mAP50", "mask_mAP75"} <= set(run.test)
    r = nnlab.evaluate(run.dir)
    assert r["mask_mAP50"] == pytest.approx(run.test["mask_mAP50"])
    assert any(row[0] == "mask_mAP50" for row in r["table"]) and r["mask_pr_png"].endswith(".png")


def test_mask_rcnn_refuses_targets_without_masks():
    from nnlab.models.detection import DETECTORS

    m = DETECTORS.build("mask_rcnn", classes=1, in_chans=3, input_size=(64, 64), width=4, neck_width=8,
                        anchor_scale=2).train()
    with pytest.raises(UserError, match="needs 'masks'"):
        m(torch.zeros(1, 3, 64, 64), [{"boxes": torch.tensor([[2.0, 2.0, 30.0, 30.0]]), "labels": torch.tensor([0])}])
