"""Explaining a detected box: the box's score as a one-output model, and the CLI on a tiny YOLO run."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import nnlab
from nnlab.cli.main import main
from nnlab.explain.attribution import Options, attribute
from nnlab.explain.detection import BoxScore


class FakeDetector(nn.Module):
    """Two fixed boxes whose scores are the mean brightness of their halves of a (B, 1, 4, 4) image."""

    def forward(self, x: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        boxes = torch.tensor([[0.0, 0.0, 2.0, 4.0], [2.0, 0.0, 4.0, 4.0]])
        return [{"boxes": boxes, "labels": torch.tensor([0, 1]),
                 "scores": torch.stack([xi[0, :, :2].mean(), xi[0, :, 2:].mean()]).sigmoid()} for xi in x]


def test_box_score_follows_the_matching_detection_and_is_zero_without_one():
    x = torch.randn(3, 1, 4, 4)
    left = BoxScore(FakeDetector(), torch.tensor([0.0, 0.0, 2.0, 3.5]), 0)(x)  # IoU 0.875 with the left box
    torch.testing.assert_close(left[:, 0], x[:, 0, :, :2].mean(dim=(1, 2)).sigmoid())
    assert BoxScore(FakeDetector(), torch.tensor([0.0, 0.0, 2.0, 4.0]), 1)(x).abs().sum() == 0  # wrong class
    assert BoxScore(FakeDetector(), torch.tensor([1.0, 0.0, 3.0, 4.0]), 0)(x).abs().sum() == 0  # IoU 1/3


def test_box_saliency_lies_in_the_box_and_occlusion_is_the_score_drop():
    x, t = torch.randn(1, 1, 4, 4), torch.zeros(1, dtype=torch.long)
    model = BoxScore(FakeDetector(), torch.tensor([2.0, 0.0, 4.0, 4.0]), 1)
    sal = attribute(model, x, "saliency", t)
    assert bool((sal[0, :, :2] == 0).all() and (sal[0, :, 2:] > 0).all())
    occ = attribute(model, x, "occlusion", t, options=Options(window=2, stride=2, probability=False))
    with torch.no_grad():
        z = x.clone()
        z[:, :, :2, 2:] = 0
        drop = (model(x) - model(z)).clamp_min(0)[0, 0]
    torch.testing.assert_close(occ[0, :2, 2:], drop.expand(2, 2))


@pytest.fixture(scope="module")
def detect_run(tmp_path_factory):
    cfg = {"name": "det", "task": "detect", "data": {"dataset": "scenes", "image_size": [48, 48], "val_fraction": 0.1},
           "detect": {"scenes": {"n": 36, "n_test": 8, "digits": [1, 2], "scale": [1.0, 1.5]}},
           "model": {"name": "yolo", "width": 4, "neck_width": 8, "score_thresh": 0.0},
           "optim": {"name": "adam", "lr": 0.01}, "train": {"epochs": 1, "batch_size": 8}}
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return nnlab.fit(cfg, runs_root=tmp_path_factory.mktemp("runs"), progress=False).dir
    finally:
        torch.set_num_threads(before)


def test_explain_a_detected_box(detect_run, tmp_path, capsys):
    from nnlab.data.boxes.scenes import generate_scenes

    img = tmp_path / "scene.png"
    Image.fromarray(generate_scenes(1, 48, (1, 1), (1.0, 1.5), seed=5).images[0].permute(1, 2, 0).numpy()).save(img)
    for method in ("saliency", "gradcam"):
        assert main(["explain", str(detect_run), str(img), "--method", method, "--box", "1", "--out",
                     str(tmp_path / "o")]) == 0
        heat = np.load(tmp_path / "o" / f"scene_box1_{method}.npy")
        assert heat.shape == (48, 48) and (heat >= 0).all()
    assert "box [" in capsys.readouterr().out
    assert main(["explain", str(detect_run), str(img), "--method", "saliency", "--box", "100000"]) == 2
    assert "--box 100000 is out of range: the detector found" in capsys.readouterr().err
    assert main(["explain", str(detect_run), str(img), "--method", "saliency", "--target", "1"]) == 2
    assert "use --box N" in capsys.readouterr().err
