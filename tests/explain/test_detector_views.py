"""Looking inside a detector: class scores before NMS, object features, and the explain tools on a tiny YOLO run."""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from torch import nn

from nnlab.cli.main import main
from nnlab.errors import UserError
from nnlab.explain.common import Explained, open_classifier
from nnlab.explain.detector_views import ClassScores, detector_of, object_features
from nnlab.models.detection.detector import Head


class IdentityBackbone(nn.Module):
    def forward(self, x: torch.Tensor) -> OrderedDict:
        return OrderedDict(p1=x, p2=x[:, :, ::2, ::2])  # strides 1 and 2: the image and every other pixel


class FakeHead(Head):
    """Candidates: two boxes per image; class 0 scored by the left half's mean, class 2 by the right half's."""

    def predict(self, maps: OrderedDict, size: tuple[int, int], proposals=None) -> list[dict[str, torch.Tensor]]:
        x = maps["p1"]
        return [{"boxes": torch.zeros(2, 4), "labels": torch.tensor([0, 2]),
                 "scores": torch.stack([xi[:, :, :2].mean(), xi[:, :, 2:].mean()]).sigmoid()} for xi in x]


class FakeDenseHead(Head):
    """A one-stage head: every pixel of the image is a location whose K = 3 class scores are (x, -x, 2x)."""

    decode = "topk"

    def dense(self, maps: OrderedDict, size: tuple[int, int]) -> dict[str, torch.Tensor]:
        x = maps["p1"].flatten(1)  # (B, N)
        return {"boxes": torch.zeros(*x.shape, 4), "scores": torch.stack([x, -x, 2 * x], -1)}  # (B, N, 3)


class FakeDetector(nn.Module):
    def __init__(self, head: Head | None = None) -> None:
        super().__init__()
        self.backbone, self.neck, self.num_classes = IdentityBackbone(), nn.Identity(), 3
        self.head = head or FakeHead()


def test_class_scores_are_each_class_best_candidate_with_gradients():
    x = torch.randn(2, 1, 4, 4, requires_grad=True)
    s = ClassScores(FakeDetector())(x)  # (2, 3)
    torch.testing.assert_close(s[:, 0], x[:, 0, :, :2].mean(dim=(1, 2)).sigmoid())
    torch.testing.assert_close(s[:, 2], x[:, 0, :, 2:].mean(dim=(1, 2)).sigmoid())
    assert bool((s[:, 1] == 0).all())  # no candidate of class 1
    s[:, 2].sum().backward()
    assert bool((x.grad[:, :, :, :2] == 0).all() and (x.grad[:, :, :, 2:] != 0).all())


def test_class_scores_of_a_one_stage_head_are_the_best_location_per_class():
    x = torch.randn(2, 1, 4, 4, requires_grad=True)
    s = ClassScores(FakeDetector(FakeDenseHead()))(x)  # (2, 3)
    flat = x.flatten(1)
    torch.testing.assert_close(s, torch.stack([flat.amax(1), (-flat).amax(1), 2 * flat.amax(1)], 1))
    s[:, 0].sum().backward()
    assert int((x.grad != 0).sum()) == 2  # only each image's best location


def test_object_features_pool_every_backbone_map_inside_each_box():
    x = torch.zeros(2, 3, 16, 16)
    x[0, :, 0:8, 0:8] = torch.tensor([1.0, 2.0, 3.0])[:, None, None]
    boxes = [torch.tensor([[2.0, 2.0, 6.0, 6.0], [12.0, 12.0, 16.0, 16.0]]), torch.tensor([[2.0, 2.0, 6.0, 6.0]])]
    f = object_features(FakeDetector(), x, boxes)  # (3, 3 + 3): the stride-1 map's channels, then stride 2's
    inside = torch.tensor([1.0, 2.0, 3.0, 1.0, 2.0, 3.0])
    torch.testing.assert_close(f, torch.stack([inside, torch.zeros(6), torch.zeros(6)]))


def test_a_classic_detector_is_refused_by_name():
    run = Explained(nn.Linear(2, 2), None, ["a"], "hog", task="detect")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="needs a learned Detector.*hog's model is Linear, a classic detector"):
        detector_of(run, "explain embed")


def test_detection_runs_show_filters_and_backbone_activations(detect_run, scene_png, tmp_path, monkeypatch):
    from nnlab.explain import features

    assert main(["explain", "filters", str(detect_run), "--out", str(tmp_path / "f.png")]) == 0
    assert (tmp_path / "f.png").is_file()
    drawn: list[tuple[str, int]] = []  # (file name, tiles): 30 layers of PNGs would take seconds here
    monkeypatch.setattr(features, "mosaic_png", lambda tiles, out, title, cols=8: drawn.append((Path(out).name,
                                                                                                len(tiles))) or out)
    assert main(["explain", "activations", str(detect_run), str(scene_png), "--out", str(tmp_path / "a")]) == 0
    assert drawn and all("_backbone." in name for name, _ in drawn)  # the backbone's layers, not the head's codes
    assert drawn[0][1] == 4  # the first stage's channels (width 4), one tile each


def test_detection_runs_embed_objects_and_find_neighbours_of_a_box(detect_run, scene_png, tmp_path, capsys):
    assert main(["explain", "embed", str(detect_run), "--out", str(tmp_path / "e.png")]) == 0
    assert main(["explain", "neighbours", str(detect_run), str(scene_png), "--box", "0", "--k", "3", "--out",
                 str(tmp_path / "n.png")]) == 0
    out = capsys.readouterr().out
    assert "feature space: #" in out and "pixel space: #" in out
    assert all(Path(tmp_path / n).is_file() for n in ("e.png", "n.png"))


def test_dream_on_a_detector_raises_a_class_score_or_a_box_score(detect_run, scene_png, tmp_path, capsys):
    from nnlab.explain.detector_views import ClassScores, detection_dream
    from nnlab.explain.dream import Objective, Regularizers

    run = open_classifier(detect_run, tasks=("detect",))
    reg = Regularizers(l2=0, blur_sigma=0, jitter=0)  # a 1-epoch detector's scores barely move: no decay
    x, view, _, what = detection_dream(run, Objective(1), reg, steps=8, lr=0.1)
    start = 0.01 * torch.randn(1, 3, 48, 48, generator=torch.Generator().manual_seed(0))
    scores = ClassScores(run.model)
    with torch.no_grad():
        assert float(scores(x)[0, 1]) > float(scores(start)[0, 1])  # the ascent raised the class's best score
    assert what.startswith("class ")
    x, _, _, what = detection_dream(run, Objective(layer="backbone.stages.0", unit=1), reg, steps=2)
    assert x.shape == (1, 3, 48, 48) and what == "backbone.stages.0 unit 1"
    assert main(["explain", "dream", str(detect_run), "--image", str(scene_png), "--box", "0", "--steps", "3",
                 "--out", str(tmp_path / "d.png")]) == 0
    assert (tmp_path / "d.png").is_file()
    assert main(["explain", "dream", str(detect_run), "--box", "0", "--out", str(tmp_path / "d.png")]) == 2
    assert "give both --image FILE and --box N" in capsys.readouterr().err


def test_box_options_on_a_classifier_are_refused(mlp_run, digit_pngs, capsys):
    assert main(["explain", "neighbours", str(mlp_run), str(digit_pngs[0]), "--box", "0"]) == 2
    assert "--box is for detection runs" in capsys.readouterr().err
    assert main(["explain", "dream", str(mlp_run), "--class", "1", "--box", "0"]) == 2
    assert "--box and --image are for detection runs" in capsys.readouterr().err
