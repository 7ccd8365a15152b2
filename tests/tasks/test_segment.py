"""The segment task: metric names, the ignore index, mask data and splits, mask-aware augmentation, a one-batch overfit
through ``training_step``, predict overlays and ONNX parity of an exported segmenter."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import nnlab
from nnlab.config import from_dict, load as load_config
from nnlab.data.shapes import make_shapes
from nnlab.errors import ConfigError, UserError
from nnlab.tasks.segment import SCALAR_METRICS, Segment
from tests.conftest import ROOT, shared_dataset

CFG = {"task": "segment", "data": {"dataset": "shapes", "image_size": [16, 16]}, "segment": {"shapes": 20},
       "model": {"name": "unet", "depth": 1, "width": 4}, "optim": {"name": "adam", "lr": 0.01},
       "train": {"epochs": 1, "batch_size": 8}}


def _task(**sections) -> tuple[Segment, object, nn.Module]:
    task = Segment(from_dict({**CFG, **sections}))
    data = task.load_data(progress=False)
    model = task.build_model(data.info)
    task.setup(model, data.info)
    return task, data, model


class Oracle(nn.Module):
    """Logits (B, K, H, W) that put each pixel in the class given by ``answer`` (B, H, W)."""

    def __init__(self, answer: torch.Tensor, k: int) -> None:
        super().__init__()
        self.answer, self.k = answer, k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(self.answer.clamp(max=self.k - 1), self.k).permute(0, 3, 1, 2).float() * 10


def test_metric_names_and_a_perfect_prediction():
    task, data, _ = _task()
    x, y = next(iter(task.loader(data, "test")))
    ev = task.evaluator()
    ev.update(Oracle(y, 3), (x, y))
    out = ev.compute()
    assert list(out) == ["loss", *SCALAR_METRICS] == ["loss", "pixel_accuracy", "miou", "dice", "boundary_iou"]
    assert out["pixel_accuracy"] == out["miou"] == out["dice"] == out["boundary_iou"] == 1.0
    assert out["loss"] < 0.01
    assert Segment.monitor == "val_miou" and Segment.mode == "max"


def test_ignored_pixels_count_in_no_metric_and_no_loss():
    task, data, _ = _task()
    x, y = next(iter(task.loader(data, "test")))
    wrong = (y + 1) % 3  # every pixel wrong ...
    target = y.clone()
    target[:, :, 8:] = 255  # ... but half the image ignored: metrics see only the left half
    answer = torch.where(target == 255, wrong, y)
    ev = task.evaluator()
    ev.update(Oracle(answer, 3), (x, target))
    out = ev.compute()
    assert out["pixel_accuracy"] == 1.0 and out["miou"] == 1.0 and out["loss"] < 0.01
    assert sum(c["pixels"] for c in ev.per_class(["a", "b", "c"]).values()) == (target != 255).sum()


def test_batches_are_normalized_images_and_int64_masks():
    task, data, _ = _task()
    x, y = next(iter(task.loader(data, "train", train=True)))
    assert x.dtype == torch.float32 and x.shape == (8, 3, 16, 16)
    assert y.dtype == torch.int64 and y.shape == (8, 16, 16) and set(y.unique().tolist()) <= {0, 1, 2}


def test_splits_are_seeded_disjoint_and_cover_the_data():
    a, b = (Segment(from_dict(CFG)).load_data(progress=False) for _ in range(2))
    files = {k: a[k].files for k in ("train", "val", "test")}
    assert files == {k: b[k].files for k in ("train", "val", "test")}
    assert sorted(sum(files.values(), [])) == sorted(make_shapes(20, (16, 16)).files)
    assert (len(files["train"]), len(files["val"]), len(files["test"])) == (14, 2, 4)


@pytest.mark.parametrize("augment", [{"hflip": 1.0, "vflip": 0.5, "rot90": 0.5},
                                     {"hflip": 0.5, "rotate": 30.0, "scale": [0.7, 1.3], "translate": 0.2}])
def test_augment_moves_masks_with_the_pixels(augment):
    torch.manual_seed(0)
    task, data, _ = _task(augment=augment)
    y = data.split("train").masks[:8].long()  # (8, 16, 16)
    pre = task.train_transform
    x = (torch.tensor([0.1, 0.5, 0.9])[y][:, None].expand(-1, 3, -1, -1) - pre.mean.view(1, -1, 1, 1)) \
        / pre.std.view(1, -1, 1, 1)
    ax, ay = pre(x, y)
    assert ay.shape == y.shape and ay.dtype == y.dtype and not torch.equal(ay, y)
    grey = (ax * pre.std.view(1, -1, 1, 1) + pre.mean.view(1, -1, 1, 1))[:, 0]  # (8, 16, 16)
    read = (grey[..., None] - torch.tensor([0.1, 0.5, 0.9])).abs().argmin(-1)  # the class the pixels show
    inside = ay != 255
    agree = (read == ay)[inside].float().mean()
    assert agree > (0.999 if "rotate" not in augment else 0.93)  # warps blur only the edges of the image
    assert (read == y)[inside].float().mean() < agree - 0.1  # the unmoved masks would not fit


def test_bad_configs_fail_before_any_data_is_read():
    with pytest.raises(ConfigError, match="segment.ignore_index: 255"):
        Segment(from_dict({**CFG, "augment": {"rotate": 5.0}, "segment": {"ignore_index": 0}})).validate()
    with pytest.raises(ConfigError, match="augment.hflip"):
        Segment(from_dict({**CFG, "augment": {"hflip": 0.5}, "data": {**CFG["data"],
                                                                     "orientation_sensitive": True}})).validate()
    with pytest.raises(ConfigError, match="masks | pennfudan | shapes"):
        Segment(from_dict({**CFG, "data": {"dataset": "digits"}})).validate()
    with pytest.raises(ConfigError, match="segment.loss"):
        Segment(from_dict({**CFG, "train": {"loss": "hinge"}})).validate()
    with pytest.raises(UserError, match="unknown segmentation loss .dcie.. Did you mean .dice."):
        Segment(from_dict({**CFG, "segment": {"loss": "cross_entropy+dcie"}})).validate()
    with pytest.raises(ConfigError, match="data.path"):
        Segment(from_dict({**CFG, "data": {"dataset": "masks"}})).load_data()
    with pytest.raises(ConfigError, match="3 classes"):
        _task(segment={"shapes": 20, "class_weights": [1.0, 2.0]})


def test_masks_folder_in_the_digits_layout(tmp_path):
    scenes = make_shapes(12, (10, 12))
    for sub in ("images", "labels"):
        (tmp_path / sub).mkdir()
    for i, (img, mask) in enumerate(zip(scenes.images, scenes.masks)):
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(tmp_path / "images" / f"{i:02d}.png")
        Image.fromarray(mask.numpy()).save(tmp_path / "labels" / f"{i:02d}.png")
    (tmp_path / "classes.txt").write_text("bg\nbox\ndisc\n")
    data = Segment(from_dict({**CFG, "data": {"dataset": "masks", "path": str(tmp_path), "image_size": [10, 12]}}
                             )).load_data(progress=False)
    assert data.info["classes"] == ["bg", "box", "disc"]
    got = torch.cat([data[k].masks for k in ("train", "val", "test")]).flatten().bincount(minlength=3)
    assert torch.equal(got, scenes.masks.flatten().long().bincount(minlength=3))


def test_overfits_one_batch_through_training_step():
    torch.manual_seed(0)
    task, data, model = _task(model={"name": "unet", "depth": 1, "width": 8}, segment={"shapes": 20})
    x, y = (t[:4] for t in next(iter(task.loader(data, "train"))))
    opt = torch.optim.Adam(model.parameters(), 0.02)
    for _ in range(40):
        loss, logs = task.training_step(model, (x, y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert set(logs) == {"pixel_accuracy"}
    ev = task.evaluator()
    model.eval()
    with torch.no_grad():
        ev.update(model, (x, y))
    assert ev.compute()["miou"] > 0.95


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return nnlab.fit({**CFG, "name": "tiny"}, runs_root=tmp_path_factory.mktemp("runs"), progress=False)


def test_predict_writes_overlays_and_class_fractions(run, tmp_path):
    image = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(image)
    (r,) = nnlab.predict(run.dir, [image], out=tmp_path / "out")
    assert set(r["fractions"]) == {"background", "rectangle", "disc"}
    assert abs(sum(r["fractions"].values()) - 1) < 1e-6
    with Image.open(r["png"]) as png:
        assert png.size[0] >= 16 and png.mode == "RGB"


def test_eval_report_has_per_class_iou_and_an_overlay_grid(run):
    report = nnlab.evaluate(run.dir, "test")
    assert set(report["per_class"]) == {"background", "rectangle", "disc"}
    assert {"iou", "dice", "boundary_iou", "pixels"} <= set(report["per_class"]["disc"])
    assert report["overlays_png"].endswith("overlays_test.png")


def test_onnx_export_computes_the_same_masks(run, tmp_path):
    import onnxruntime as ort

    exported = nnlab.export(run.dir, "onnx", out=tmp_path / "seg.onnx", dynamic_batch=True)
    assert exported.max_abs_diff < 1e-4 and exported.checked_batches == [1, 3, 8]
    loaded = nnlab.load_run(run.dir)
    x = torch.randn(2, 3, 16, 16)
    with torch.inference_mode():
        ref = loaded.model(x).numpy()  # (2, 3, 16, 16)
    got = ort.InferenceSession(str(exported.path), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    assert got.shape == ref.shape and (got.argmax(1) == ref.argmax(1)).all()


def test_deploy_serves_a_segmenter(run, tmp_path):
    from nnlab.deploy.predictor import Predictor

    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(image)
    predictor = Predictor.open(run.dir, backend="torch")  # tests/deploy has the server and ONNX Runtime
    (got,) = predictor.predict_files([image])
    (want,) = nnlab.predict(run.dir, [image])
    assert predictor.task == "segment" and got["fractions"] == pytest.approx(want["fractions"])


def test_predict_cli_prints_pixel_shares_and_the_overlay(run, tmp_path, capsys):
    from nnlab.cli.main import main

    image = tmp_path / "a.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(image)
    assert main(["predict", str(run.dir), str(image), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "of pixels  background" in out and "a_overlay.png" in out


def test_eval_cli_prints_the_per_class_table(run, capsys):
    from nnlab.cli.main import main

    assert main(["eval", str(run.dir)]) == 0
    out = capsys.readouterr().out
    assert "miou" in out and "boundary_iou" in out and "overlays PNG" in out
    assert any(line.split()[:1] == ["disc"] and len(line.split()) == 5 for line in out.splitlines())


@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "segment").glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_configs_validate_and_build(path):
    cfg = load_config(path)
    task = nnlab.api.validate(cfg)
    size = cfg.data.image_size
    info = {"classes": ["a", "b"], "preprocess": {"channels": 3, "height": size[0], "width": size[1],
                                                  "resize_mode": "squash", "mean": [0.5] * 3, "std": [0.2] * 3}}
    model = task.build_model(info)
    with torch.no_grad():
        assert model.eval()(torch.zeros(1, 3, *size)).shape == (1, 2, *size)


@pytest.mark.slow
def test_tiny_shapes_config_learns(tmp_path):
    run = nnlab.fit(ROOT / "configs/segment/shapes_unet_tiny.yaml", ["segment.shapes=100"],
                    runs_root=tmp_path, progress=False)
    assert run.test["miou"] > 0.5  # three classes: chance is ~0.2 (0.78 with the config's 200 scenes)


@pytest.mark.slow
def test_pennfudan_is_person_and_background():
    root = shared_dataset("pennfudanped")
    cfg = {**CFG, "data": {"dataset": "pennfudan", "path": str(root), "image_size": [32, 32]}}
    data = Segment(from_dict(cfg)).load_data(progress=False)
    assert data.info["classes"] == ["background", "person"]
    assert sum(len(data[k]) for k in ("train", "val", "test")) == 170


def test_digit_scenes_as_semantic_masks(monkeypatch, tmp_path):
    monkeypatch.setenv("NNLAB_MNIST", str(tmp_path / "no-mnist"))  # sklearn's digits: fast and always there
    task = Segment(from_dict({**CFG, "data": {"dataset": "scenes", "image_size": [32, 32]},
                              "detect": {"scenes": {"n": 10, "n_test": 3, "digits": [2, 2], "scale": [1.0, 1.0]}}}))
    task.validate()
    data = task.load_data(progress=False)
    assert [len(data.split(s)) for s in ("train", "val", "test")] == [9, 1, 3]  # the test scenes are the source's
    assert data.info["classes"] == ["background", *map(str, range(10))]
    test = data.split("test")
    for sem, t in zip(test.masks, test.targets):  # each digit's pixels carry its class + 1, the rest 0
        painted = torch.zeros_like(sem)
        for m, label in zip(t["masks"].bool(), t["labels"].tolist()):
            painted[m] = label + 1
        assert torch.equal(sem, painted) and 1 <= len(t["labels"]) <= 2  # a hidden digit is dropped
