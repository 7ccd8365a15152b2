"""Explaining a detected box: the box's score as a one-output model, and the CLI on a tiny YOLO run."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

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


def test_explain_a_detected_box(detect_run, scene_png, tmp_path, capsys):
    img = scene_png
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


def test_box_layer_is_the_deepest_backbone_map_the_box_score_reaches():
    from collections import OrderedDict

    from nnlab.explain.detection import box_layer

    class Backbone(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.shallow, self.deep = nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(2, 2, 3, stride=2)

        def forward(self, x: torch.Tensor) -> OrderedDict:
            a = self.shallow(x)
            return OrderedDict(s=a, d=self.deep(a))

    class OneLevel(nn.Module):  # the box is scored from the shallow map: the deep one gets no gradient from it
        def __init__(self) -> None:
            super().__init__()
            self.backbone = Backbone()

        def forward(self, x: torch.Tensor) -> list[dict[str, torch.Tensor]]:
            shallow = self.backbone(x)["s"]
            return [{"boxes": torch.tensor([[0.0, 0.0, 4.0, 4.0]]), "labels": torch.tensor([0]),
                     "scores": a.mean()[None].sigmoid()} for a in shallow]

    model = BoxScore(OneLevel(), torch.tensor([0.0, 0.0, 4.0, 4.0]), 0)
    assert box_layer(model, torch.randn(1, 1, 8, 8)) == "backbone.shallow"  # not the last map, "backbone.deep"
